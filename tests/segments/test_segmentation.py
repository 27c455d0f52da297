"""Pure tests of the segmentation library (no database, no Airflow): preprocessing, K-Medoids,
metrics and fit_segments. Fast (a few seconds) and deterministic."""

from __future__ import annotations

import itertools
import json
import tracemalloc

import kmedoids
import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import cdist
from sklearn.metrics import pairwise_distances, silhouette_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import RobustScaler

from vehicle_sales.segments import kmedoids as kmedoids_module
from vehicle_sales.segments.fit import SegmentationResult, fit_segments
from vehicle_sales.segments.kmedoids import KMedoidsPAM
from vehicle_sales.segments.metrics import clustering_metrics
from vehicle_sales.segments.preprocessing import RFMTransformer, make_preprocessor

METRICS = ("euclidean", "manhattan", "cosine")


def reference_distances(X: np.ndarray, metric: str) -> np.ndarray:
    """An independent full matrix (scipy / sklearn): euclidean by direct differences (exact)."""
    if metric == "euclidean":
        return cdist(X, X)
    if metric == "manhattan":
        return cdist(X, X, "cityblock")
    return pairwise_distances(X, metric="cosine")


def blobs(n: int, seed: int, dim: int = 3, centers: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    loc = rng.normal(scale=4, size=(centers, dim))
    return loc[rng.integers(0, centers, n)] + rng.normal(size=(n, dim))


def three_group_rfm(seed: int = 7) -> tuple[pd.DataFrame, np.ndarray]:
    """A wholesaler's customers in three obvious groups; returns the table and the true group names."""
    rng = np.random.default_rng(seed)
    groups = [  # name, size, recency_days, frequency, monetary
        ("Champion", 12, (2, 15), (18, 30), (250_000, 500_000)),
        ("Potential Loyalist", 150, (20, 120), (4, 9), (25_000, 80_000)),
        ("Hibernating", 90, (300, 700), (1, 2), (1_000, 6_000)),
    ]
    frames, truth = [], []
    for name, size, rec, freq, mon in groups:
        frames.append(
            pd.DataFrame(
                {
                    "recency_days": rng.integers(rec[0], rec[1] + 1, size),
                    "frequency": rng.integers(freq[0], freq[1] + 1, size),
                    "monetary": rng.uniform(mon[0], mon[1], size).round(2),
                }
            )
        )
        truth += [name] * size
    df = pd.concat(frames, ignore_index=True)
    order = rng.permutation(len(df))  # customers in no particular order
    df = df.iloc[order].reset_index(drop=True)
    df.insert(0, "customer_id", np.arange(10_001, 10_001 + len(df)))
    return df, np.asarray(truth)[order]


# ----------------------------------------------------------------------------- preprocessing


def test_rfm_transformer_computes_neg_sqrt_recency_and_log1p_frequency_and_monetary():
    X = np.array([[0, 0, 0], [4, 1, 9], [9, np.e - 1, 99]], dtype=float)
    out = RFMTransformer().fit_transform(X)
    np.testing.assert_allclose(out[:, 0], [0, -2, -3])
    np.testing.assert_allclose(out[:, 1], [0, np.log(2), 1])
    np.testing.assert_allclose(out[:, 2], [0, np.log(10), np.log(100)])


def test_rfm_transformer_takes_dataframe_columns_by_name_ignoring_others():
    df = pd.DataFrame(
        {"monetary": [99.0, 0.0], "customer_id": [1, 2], "frequency": [1, 3], "recency_days": [16, 25]}
    )
    out = RFMTransformer().fit_transform(df)
    np.testing.assert_allclose(out, [[-4, np.log(2), np.log(100)], [-5, np.log(4), 0]])
    assert list(RFMTransformer().get_feature_names_out()) == [
        "recency_neg_sqrt",
        "frequency_log1p",
        "monetary_log1p",
    ]


@pytest.mark.parametrize(
    "bad, message",
    [
        ([[1, 2, -3.0]], "non-negative"),
        ([[-1, 2, 3.0]], "non-negative"),
        ([[1, np.nan, 3.0]], "finite"),
        ([[1, 2, np.inf]], "finite"),
        ([[1, 2]], "3 columns"),
        (np.empty((0, 3)), "no rows"),
        ([["a", 2, 3]], "numeric"),
    ],
)
def test_rfm_transformer_rejects_invalid_input_with_a_clear_value_error(bad, message):
    with pytest.raises(ValueError, match=message):
        RFMTransformer().fit_transform(np.asarray(bad, dtype=object) if message == "numeric" else bad)


def test_rfm_transformer_names_the_missing_dataframe_columns():
    with pytest.raises(ValueError, match="monetary"):
        RFMTransformer().fit_transform(
            pd.DataFrame({"recency_days": [1], "frequency": [1], "x": [1], "y": [2]})
        )


def test_make_preprocessor_is_rfm_transform_then_robust_scaler():
    pre = make_preprocessor()
    assert isinstance(pre, Pipeline)
    assert [name for name, _ in pre.steps] == ["rfm", "scale"]
    assert isinstance(pre.steps[0][1], RFMTransformer) and isinstance(pre.steps[1][1], RobustScaler)
    X = np.random.default_rng(0).uniform(0, 500, size=(50, 3))
    expected = RobustScaler().fit_transform(RFMTransformer().fit_transform(X))
    np.testing.assert_allclose(pre.fit_transform(X), expected)


# ----------------------------------------------------------------------------- K-Medoids quality


def test_loss_never_exceeds_build_swap_pam_on_small_random_sets():
    strictly_better = 0
    for seed in range(30):
        rng = np.random.default_rng(seed)
        n, k, metric = int(rng.integers(20, 61)), int(rng.integers(2, 6)), METRICS[seed % 3]
        X = blobs(n, seed)
        if seed % 2:
            X = X.round(1)  # ties, as in integer RFM data
        pam = kmedoids.pam(reference_distances(X, metric), k, init="build", max_iter=1000)
        model = KMedoidsPAM(n_clusters=k, metric=metric, random_state=seed).fit(X)
        assert model.method_used_ == "pam"
        assert model.inertia_ <= pam.loss * (1 + 1e-9), (seed, n, k, metric, model.inertia_, pam.loss)
        strictly_better += model.inertia_ < pam.loss * (1 - 1e-9)
    print(f"\nbetter than BUILD+SWAP PAM on {strictly_better}/30 sets, equal on the others")


def test_result_is_a_swap_local_optimum_between_global_optimum_and_pam_on_tiny_sets():
    """Brute force (itertools.combinations) for n <= 12, k <= 3: global optimum <= ours <= PAM, and
    no single medoid/non-medoid swap improves ours (the PAM local-optimum condition)."""
    equal_global = total = 0
    for seed in range(40):
        rng = np.random.default_rng(1000 + seed)
        n, k, metric = int(rng.integers(5, 13)), int(rng.integers(1, 4)), METRICS[seed % 3]
        X = rng.normal(size=(n, 2)).round(1)
        D = reference_distances(X, metric)

        def loss(meds, D=D):
            return D[:, list(meds)].min(axis=1).sum()

        optimum = min(loss(c) for c in itertools.combinations(range(n), k))
        pam_loss = kmedoids.pam(D, k, init="build").loss
        model = KMedoidsPAM(n_clusters=k, metric=metric, random_state=seed).fit(X)
        ours = set(int(i) for i in model.medoid_indices_)
        tol = 1e-9 * max(1.0, optimum)
        assert optimum - tol <= model.inertia_ <= pam_loss + tol
        assert abs(model.inertia_ - loss(ours)) <= tol
        for out, into in itertools.product(sorted(ours), sorted(set(range(n)) - ours)):
            assert loss(ours - {out} | {into}) >= model.inertia_ - tol
        total += 1
        equal_global += model.inertia_ <= optimum + tol
    print(f"\nglobal optimum reached on {equal_global}/{total} tiny sets")
    assert equal_global >= 0.9 * total


@pytest.mark.parametrize("metric", METRICS)
def test_inertia_is_the_sum_of_distances_to_the_nearest_medoid(metric):
    X = blobs(200, 3)
    model = KMedoidsPAM(n_clusters=4, metric=metric).fit(X)
    D = reference_distances(X, metric)[:, model.medoid_indices_]
    assert model.inertia_ == pytest.approx(D.min(axis=1).sum(), rel=1e-9)
    np.testing.assert_array_equal(model.cluster_centers_, X[model.medoid_indices_])
    assert model.labels_.shape == (200,) and set(model.labels_) == {0, 1, 2, 3}
    assert np.all(np.diff(model.medoid_indices_) > 0)  # distinct, ascending


@pytest.mark.parametrize("metric", METRICS)
def test_predict_matches_the_training_labels_and_the_nearest_medoid_of_new_points(metric):
    X = blobs(300, 5)
    model = KMedoidsPAM(n_clusters=3, metric=metric).fit(X)
    np.testing.assert_array_equal(model.predict(X), model.labels_)
    new = blobs(500, 6)
    expected = pairwise_distances(new, model.cluster_centers_, metric=metric).argmin(axis=1)
    np.testing.assert_array_equal(model.predict(new), expected)


@pytest.mark.parametrize(
    "params",
    [
        {"method": "pam"},
        {"method": "fasterpam"},
        {"method": "clara", "clara_sample_size": 150},
        {"init": "random"},
        {"init": "build"},
    ],
)
def test_fit_is_deterministic_for_a_fixed_random_state(params):
    X = blobs(400, 11)
    a = KMedoidsPAM(n_clusters=4, random_state=42, **params).fit(X)
    b = KMedoidsPAM(n_clusters=4, random_state=42, **params).fit(X)
    np.testing.assert_array_equal(a.medoid_indices_, b.medoid_indices_)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert a.inertia_ == b.inertia_


def test_auto_method_uses_pam_then_fasterpam_then_clara_as_n_grows():
    X = blobs(300, 2)
    kw = dict(n_clusters=3, exact_max_n=100, clara_threshold=200, n_init=2)
    assert KMedoidsPAM(**kw).fit(X[:80]).method_used_ == "pam"
    assert KMedoidsPAM(**kw).fit(X[:150]).method_used_ == "fasterpam"
    assert KMedoidsPAM(**kw).fit(X).method_used_ == "clara"
    # above the threshold it is CLARA whatever the method asked for
    assert KMedoidsPAM(**{**kw, "method": "pam"}).fit(X).method_used_ == "clara"


def rfm_like(n: int, seed: int) -> np.ndarray:
    """Preprocessed RFM values of a skewed wholesaler population (as bench_segmentation.py draws them)."""
    rng = np.random.default_rng(seed)
    frequency = rng.geometric(0.3, n)
    monetary = frequency * rng.lognormal(np.log(3500), 0.9, n)
    recency = np.floor(rng.uniform(0, 1, n) ** (1 + 0.15 * (frequency - 1)) * 1095)
    return make_preprocessor().fit_transform(np.column_stack([recency, frequency, monetary]))


def swap_gains(D: np.ndarray, medoids) -> np.ndarray:
    """(k, n) loss change of every single swap (medoid i out, point c in), from the full matrix:
    shared(c) = sum_o min(d_oc - n1_o, 0) plus, over o in cluster i, clip(d_oc, n1_o, n2_o) - n1_o."""
    med = np.asarray(medoids)
    Dm = D[:, med]
    order = np.argsort(Dm, axis=1)
    near = order[:, 0]
    n1 = Dm[np.arange(len(D)), near]
    n2 = Dm[np.arange(len(D)), order[:, 1]] if len(med) > 1 else np.full(len(D), np.inf)
    shared = np.minimum(D - n1[:, None], 0).sum(axis=0)  # D[o, c]
    removal = np.clip(D, n1[:, None], n2[:, None]) - n1[:, None]
    return shared[None, :] + np.stack([removal[near == i].sum(axis=0) for i in range(len(med))])


def test_fasterpam_with_scouts_ends_in_a_swap_local_optimum_never_worse_than_without():
    """Above exact_max_n: one shuffled FasterPAM run plus scouts. The result admits no improving
    single swap on the full matrix, and the scouts never make it worse than the run alone."""
    better = 0
    for seed in range(6):
        X = rfm_like(1200, seed)
        D = reference_distances(X, "euclidean")
        model = KMedoidsPAM(n_clusters=3, random_state=seed).fit(X)
        alone = KMedoidsPAM(n_clusters=3, random_state=seed, scouts=0).fit(X)
        assert model.method_used_ == "fasterpam"
        assert swap_gains(D, model.medoid_indices_).min() >= -1e-4 * model.inertia_ / len(X)
        assert model.inertia_ <= alone.inertia_ * (1 + 1e-12)
        better += model.inertia_ < alone.inertia_ * (1 - 1e-9)
    print(f"\nscouts improved on the single FasterPAM run on {better}/6 populations")


def test_swaps_read_the_transposed_matrix_and_find_what_the_c_order_matrix_finds():
    X = rfm_like(800, 1)
    D = kmedoids_module.distance_matrix(X, "euclidean", np.float32)
    start = kmedoids_module.kmedoids_plusplus(D, 3, np.random.RandomState(0))
    for algo in ("pam", "fasterpam"):
        ours, _ = kmedoids_module._swap(D, start, algo, 300)
        ref = (kmedoids.pam if algo == "pam" else kmedoids.fasterpam)(
            np.ascontiguousarray(D),
            start.astype(np.uintp),
            max_iter=300,
            **({} if algo == "pam" else {"n_cpu": 1}),
        )
        np.testing.assert_array_equal(np.sort(ours), np.sort(np.asarray(ref.medoids)))


def test_float32_matrix_is_the_float64_matrix_rounded_for_every_metric():
    X = rfm_like(700, 2)
    for metric in METRICS:
        D32 = kmedoids_module.distance_matrix(X, metric, np.float32)
        D64 = kmedoids_module.distance_matrix(X, metric, np.float64)
        assert D32.dtype == np.float32 and D32.flags.c_contiguous
        np.testing.assert_array_equal(D32, D64.astype(np.float32) * (1 - np.eye(700, dtype=np.float32)))


def test_float32_matrix_filled_by_two_threads_is_the_float64_matrix_rounded(monkeypatch):
    """Many blocks, taken by two threads in turn: every cell as one thread computes it."""
    from sklearn.metrics import pairwise_distances

    X = rfm_like(700, 5)
    monkeypatch.setattr(kmedoids_module, "_MATRIX_BLOCK_BYTES", 8 * 700 * 37)  # 19 blocks of 37 rows
    D32 = kmedoids_module.distance_matrix(X, "euclidean", np.float32)
    D64 = kmedoids_module.distance_matrix(X, "euclidean", np.float64)
    np.testing.assert_array_equal(D32, D64.astype(np.float32) * (1 - np.eye(700, dtype=np.float32)))
    # distances to a few points go straight to the kernel sklearn would call: the same values
    got = kmedoids_module.pairwise(X, X[[3, 500, 9]])
    np.testing.assert_array_equal(got, pairwise_distances(X, X[[3, 500, 9]], metric="minkowski", p=2))


def test_int32_matrix_is_the_float64_matrix_in_fixed_point_for_every_metric(monkeypatch):
    """Every cell is the float64 distance times fixed_point_scale, rounded to the nearest integer
    (many blocks, two threads for euclidean); the diagonal is 0."""
    X = rfm_like(700, 2)
    monkeypatch.setattr(kmedoids_module, "_MATRIX_BLOCK_BYTES", 8 * 700 * 37)  # 19 blocks of 37 rows
    for metric in METRICS:
        DI = kmedoids_module.distance_matrix(X, metric, np.int32)
        D64 = kmedoids_module.distance_matrix(X, metric, np.float64)
        scale = kmedoids_module.fixed_point_scale(X, metric)
        assert DI.dtype == np.int32 and DI.flags.c_contiguous
        expected = np.rint(D64 * scale) * (1 - np.eye(700))
        np.testing.assert_array_equal(DI, expected.astype(np.int32))
        assert 0 < DI.max() <= kmedoids_module.FIXED_POINT_MAX


def test_fixed_point_scale_bounds_every_distance_whatever_the_values():
    """The farthest points possible (opposite corners of the bounding box) get exactly 2^30; huge
    coordinates do not overflow the bound; identical points give a matrix of zeros."""
    top = int(kmedoids_module.FIXED_POINT_MAX)
    corners = np.array([[0.0, 0, 0], [3, 4, 12], [3, 0, 0], [1, 2, 3]])
    for metric, far in (("euclidean", 13.0), ("manhattan", 19.0)):
        assert kmedoids_module.fixed_point_scale(corners, metric) == pytest.approx(top / far, rel=1e-15)
        DI = kmedoids_module.distance_matrix(corners, metric, np.int32)
        assert DI[0, 1] == DI[1, 0] == top and DI.max() == top
    huge = np.array([[-1e150, 0.0], [1e150, 1e150], [0.0, 5.0]])
    DI = kmedoids_module.distance_matrix(huge, "euclidean", np.int32)
    assert DI.max() <= top and DI[0, 1] > 0.99 * top
    with pytest.raises(ValueError, match="too far apart"):  # not a matrix of garbage
        kmedoids_module.distance_matrix(huge * 1e10, "euclidean", np.int32)
    assert not kmedoids_module.distance_matrix(np.ones((5, 3)), "euclidean", np.int32).any()
    with pytest.raises(ValueError, match="dtype"):
        kmedoids_module.distance_matrix(corners, "euclidean", np.float16)


def test_fasterpam_sizes_fit_on_the_int32_matrix_and_find_what_the_float32_matrix_finds():
    """Above exact_max_n the fit builds the fixed-point matrix; the swaps compare sums of distances,
    which the common scale leaves alone: the same medoids as on the float32 matrix of earlier
    versions (pinned on these populations), with the loss recomputed from X in float64."""
    assert KMedoidsPAM().matrix_dtype_for(500) == np.float64
    assert KMedoidsPAM().matrix_dtype_for(501) == np.int32
    for n, seed in ((800, 1), (1500, 4)):
        X = rfm_like(n, seed)
        ours = KMedoidsPAM(n_clusters=3, random_state=seed).fit(X)
        on32 = KMedoidsPAM(n_clusters=3, random_state=seed).fit(
            X, distances=kmedoids_module.distance_matrix(X, "euclidean", np.float32)
        )
        np.testing.assert_array_equal(ours.medoid_indices_, on32.medoid_indices_)
        assert ours.inertia_ == on32.inertia_


def test_clara_on_3000_points_is_within_a_few_percent_of_fasterpam_on_the_full_matrix():
    X = make_preprocessor().fit_transform(
        np.random.default_rng(3).uniform(0, 1, (3000, 3)) ** [1, 3, 4] * 1000
    )
    full = KMedoidsPAM(n_clusters=3, method="fasterpam", n_init=3).fit(X)
    clara = KMedoidsPAM(n_clusters=3, clara_threshold=1000, clara_sample_size=500).fit(X)
    assert full.method_used_ == "fasterpam" and clara.method_used_ == "clara"
    assert clara.inertia_ <= full.inertia_ * 1.03
    np.testing.assert_array_equal(clara.predict(X), clara.labels_)


def test_clara_never_allocates_an_n_by_n_matrix(monkeypatch):
    n, sample = 3000, 500
    X = blobs(n, 9)
    shapes = []
    real = kmedoids_module.distance_matrix

    def spy(Xs, metric, dtype=np.float64):
        shapes.append(Xs.shape[0])
        return real(Xs, metric, dtype)

    monkeypatch.setattr(kmedoids_module, "distance_matrix", spy)
    tracemalloc.start()
    try:
        model = KMedoidsPAM(n_clusters=3, clara_threshold=1000, clara_sample_size=sample).fit(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert model.method_used_ == "clara"
    assert shapes and max(shapes) == sample and len(shapes) == model.clara_samples
    assert peak < n * n * 4 / 4, (
        f"peak {peak / 2**20:.1f} MiB: an n x n float32 matrix is {n * n * 4 / 2**20:.0f} MiB"
    )


def test_duplicate_points_and_fewer_distinct_points_than_clusters_still_fit():
    X = np.repeat(np.array([[0.0, 0, 0], [1, 1, 1]]), 10, axis=0)
    model = KMedoidsPAM(n_clusters=3).fit(X)
    assert len(set(model.medoid_indices_)) == 3
    assert model.inertia_ == pytest.approx(0.0)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"metric": "chebyshev"}, "metric"),
        ({"init": "k-means++"}, "init"),
        ({"method": "alternate"}, "method"),
        ({"n_clusters": 0}, "n_clusters"),
        ({"n_clusters": 11}, "at least 11 samples"),
    ],
)
def test_invalid_parameters_raise_value_error(params, message):
    with pytest.raises(ValueError, match=message):
        KMedoidsPAM(**params).fit(blobs(10, 0))


# ----------------------------------------------------------------------------- metrics


def test_clustering_metrics_match_sklearn_and_are_none_for_a_single_cluster():
    X = blobs(120, 4)
    labels = KMedoidsPAM(n_clusters=3).fit(X).labels_
    m = clustering_metrics(X, labels)
    assert m["silhouette"] == pytest.approx(silhouette_score(X, labels))
    assert m["calinski_harabasz"] > 0 and m["davies_bouldin"] > 0
    assert clustering_metrics(X, np.zeros(120, dtype=int)) == {
        "silhouette": None,
        "calinski_harabasz": None,
        "davies_bouldin": None,
    }


def test_clustering_metrics_samples_the_silhouette_on_large_inputs():
    X = blobs(3000, 8)
    labels = KMedoidsPAM(n_clusters=3, clara_threshold=1000, clara_sample_size=300).fit(X).labels_
    sampled = clustering_metrics(X, labels, sample_size=500, random_state=1)
    idx = np.random.RandomState(1).permutation(3000)[:500]
    assert sampled["silhouette"] == pytest.approx(silhouette_score(X[idx], labels[idx]))
    assert sampled == clustering_metrics(X, labels, sample_size=500, random_state=1)


def test_large_silhouettes_read_the_float32_matrix_and_equal_sklearns():
    """Above SILHOUETTE_MATRIX_MIN points the silhouette comes from the kmedoids package on the float32
    matrix, or on the fit's int32 one when passed (a ratio of mean distances: the scale drops out):
    equal to scikit-learn's float64 silhouette to ~1e-6."""
    X = rfm_like(1500, 4)
    labels = KMedoidsPAM(n_clusters=3).fit(X).labels_
    expected = silhouette_score(X, labels)
    built = clustering_metrics(X, labels)["silhouette"]
    D = kmedoids_module.distance_matrix(X, "euclidean", np.float32)
    shared = clustering_metrics(X, labels, distances=D)["silhouette"]
    assert built == pytest.approx(expected, abs=1e-6) and shared == built
    DI = kmedoids_module.distance_matrix(X, "euclidean", KMedoidsPAM().matrix_dtype_for(1500))
    assert DI.dtype == np.int32
    assert clustering_metrics(X, labels, distances=DI)["silhouette"] == pytest.approx(expected, abs=1e-6)
    with pytest.raises(ValueError, match="distances must have shape"):
        clustering_metrics(X, labels, distances=D[:10, :10])


# ----------------------------------------------------------------------------- fit_segments


def test_fit_segments_names_three_obvious_groups_champion_loyalist_hibernating():
    rfm, truth = three_group_rfm()
    result = fit_segments(rfm, n_clusters=3)
    assert isinstance(result, SegmentationResult)
    assert sorted(result.segment_names) == ["Champion", "Hibernating", "Potential Loyalist"]
    names = np.asarray(result.names_for(result.labels))
    assert (names == truth).mean() == 1.0
    sizes = dict(zip(result.segment_names, result.segment_sizes, strict=True))
    assert sizes["Champion"] == min(sizes.values()) == 12
    champion = result.segment_names.index("Champion")
    assert result.medoid_rfm[champion, 2] == max(result.medoid_rfm[:, 2])
    assert result.silhouette > 0.5


def test_fit_segments_is_deterministic_and_its_params_are_json_serialisable():
    rfm, _ = three_group_rfm(seed=3)
    a, b = fit_segments(rfm, random_state=5), fit_segments(rfm, random_state=5)
    np.testing.assert_array_equal(a.labels, b.labels)
    np.testing.assert_array_equal(a.medoid_indices, b.medoid_indices)
    assert a.segment_names == b.segment_names and a.loss == b.loss
    assert a.algorithm == "pam-pam/k-medoids++"
    params = json.loads(json.dumps(a.params))
    assert params["n_clusters"] == 3 and params["metric"] == "euclidean" and params["method_used"] == "pam"
    assert len(a.labels) == len(rfm) and len(a.medoid_indices) == 3


def test_fit_segments_passes_model_parameters_and_names_other_k_from_the_segment_map():
    rfm, _ = three_group_rfm(seed=4)
    result = fit_segments(rfm, n_clusters=5, metric="manhattan", init="build")
    assert result.algorithm == "pam-pam/build"
    assert len(set(result.segment_names)) == 5
    assert result.params["init"] == "build" and result.params["metric"] == "manhattan"


def test_fit_segments_rejects_fewer_customers_than_clusters():
    rfm, _ = three_group_rfm()
    with pytest.raises(ValueError, match="2 customers cannot form 3 segments"):
        fit_segments(rfm.head(2), n_clusters=3)


def test_fit_segments_rejects_missing_columns_and_negative_values():
    rfm, _ = three_group_rfm()
    with pytest.raises(ValueError, match="customer_id"):
        fit_segments(rfm.drop(columns="customer_id"))
    bad = rfm.copy()
    bad.loc[0, "monetary"] = -5
    with pytest.raises(ValueError, match="non-negative"):
        fit_segments(bad)

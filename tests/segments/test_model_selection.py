"""Model selection: every (algorithm, k, metric, init) combination scored, and the documented rule."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from vehicle_sales.segments.model_selection import choose_model, evaluate_models
from vehicle_sales.segments.preprocessing import make_preprocessor

KS = range(2, 7)
METRICS = ("euclidean", "manhattan", "cosine")
INITS = ("k-medoids++", "build", "random")


@pytest.fixture(scope="module")
def scaled() -> np.ndarray:
    rng = np.random.default_rng(0)
    n = 240
    freq = rng.geometric(0.35, n)
    rfm = np.column_stack([rng.integers(0, 1000, n), freq, freq * rng.lognormal(np.log(3000), 1.0, n)])
    return make_preprocessor().fit_transform(rfm)


@pytest.fixture(scope="module")
def table(scaled) -> pd.DataFrame:
    return evaluate_models(scaled, random_state=0)


def test_table_has_exactly_every_combination(table):
    expected = {("pam", k, m, i) for k, m, i in itertools.product(KS, METRICS, INITS)}
    expected |= {("kmeans", k, "euclidean", i) for k, i in itertools.product(KS, ("k-means++", "random"))}
    got = list(zip(table["algorithm"], table["k"], table["metric"], table["init"], strict=True))
    assert len(got) == len(set(got)) == 55
    assert set(got) == expected


def test_table_columns_hold_sane_scores(table):
    for col in (
        "algorithm",
        "k",
        "metric",
        "init",
        "silhouette",
        "calinski_harabasz",
        "davies_bouldin",
        "loss",
        "fit_seconds",
    ):
        assert col in table.columns
    assert table[["silhouette", "calinski_harabasz", "davies_bouldin", "loss"]].notna().all().all()
    assert table["silhouette"].between(-1, 1).all()
    assert (table["calinski_harabasz"] > 0).all() and (table["davies_bouldin"] > 0).all()
    assert (table["loss"] > 0).all() and (table["fit_seconds"] >= 0).all()
    # K-Medoids loss falls with k for a fixed metric/init (best of restarts; allow a little slack)
    for (_, metric, init), g in table[table.algorithm == "pam"].groupby(["algorithm", "metric", "init"]):
        losses = g.sort_values("k")["loss"].to_numpy()
        assert np.all(np.diff(losses) <= 1e-9 + 0.02 * losses[:-1]), (metric, init, losses)


def test_evaluate_models_is_deterministic(scaled, table):
    again = evaluate_models(scaled, random_state=0)
    pd.testing.assert_frame_equal(table.drop(columns="fit_seconds"), again.drop(columns="fit_seconds"))


def test_evaluate_models_can_leave_out_kmeans_and_restrict_the_grid(scaled):
    small = evaluate_models(scaled, ks=[3], metrics=("euclidean",), inits=("build",), include_kmeans=False)
    assert list(zip(small.algorithm, small.k, small.metric, small.init, strict=True)) == [
        ("pam", 3, "euclidean", "build")
    ]


def _row(algorithm, k, metric, init, sil, ch, db):
    return {
        "algorithm": algorithm,
        "k": k,
        "metric": metric,
        "init": init,
        "silhouette": sil,
        "calinski_harabasz": ch,
        "davies_bouldin": db,
        "loss": 1.0,
        "fit_seconds": 0.1,
    }


def test_choose_model_takes_the_best_mean_rank_of_silhouette_davies_bouldin_calinski_harabasz():
    table = pd.DataFrame(
        [
            _row("pam", 2, "euclidean", "k-medoids++", 0.60, 100, 0.90),  # ranks 1, 3, 3 -> 2.33
            _row("pam", 3, "euclidean", "k-medoids++", 0.55, 300, 0.60),  # ranks 2, 1, 1 -> 1.33  <- best
            _row("pam", 4, "manhattan", "random", 0.50, 200, 0.70),  # ranks 3, 2, 2 -> 2.33
            _row("kmeans", 3, "euclidean", "k-means++", 0.90, 900, 0.10),  # K-Means never chosen
        ]
    )
    chosen = choose_model(table)
    assert (chosen["algorithm"], chosen["k"], chosen["metric"], chosen["init"]) == (
        "pam",
        3,
        "euclidean",
        "k-medoids++",
    )
    assert chosen["mean_rank"] == pytest.approx(4 / 3)
    assert isinstance(chosen["k"], int) and isinstance(chosen["silhouette"], float)


def test_choose_model_breaks_ties_by_smaller_k_then_metric_then_init_order():
    tied = pd.DataFrame(
        [
            _row("pam", 4, "euclidean", "k-medoids++", 0.5, 100, 0.8),
            _row("pam", 3, "cosine", "random", 0.5, 100, 0.8),
            _row("pam", 3, "manhattan", "random", 0.5, 100, 0.8),
            _row("pam", 3, "manhattan", "build", 0.5, 100, 0.8),
        ]
    )
    chosen = choose_model(tied)
    assert (chosen["k"], chosen["metric"], chosen["init"]) == (3, "manhattan", "build")


def test_choose_model_ranks_a_missing_score_last():
    table = pd.DataFrame(
        [
            _row("pam", 2, "euclidean", "build", None, None, None),
            _row("pam", 5, "euclidean", "build", 0.1, 10, 2.0),
        ]
    )
    assert choose_model(table)["k"] == 5


def test_choose_model_on_a_real_table_returns_one_of_its_pam_rows(table):
    chosen = choose_model(table)
    assert chosen["algorithm"] == "pam"
    match = table[
        (table.k == chosen["k"])
        & (table.metric == chosen["metric"])
        & (table.init == chosen["init"])
        & (table.algorithm == "pam")
    ]
    assert len(match) == 1 and match.iloc[0]["silhouette"] == pytest.approx(chosen["silhouette"])
    with pytest.raises(ValueError):
        choose_model(table.iloc[0:0])

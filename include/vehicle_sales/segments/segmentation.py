"""Customer segmentation: RFM preprocessing, K-Medoids (PAM / FasterPAM / CLARA), metrics, names.

Pure: no database, no Airflow. The DAG's ``fit_segments`` task calls :func:`fit_segments` (and,
when model selection is asked for, :func:`make_preprocessor`, :func:`evaluate_models` and
:func:`choose_model`).

Preprocessing (as in the original notebook)
-------------------------------------------
``recency_days -> -sqrt(recency_days)`` (higher is better), ``frequency -> log1p``,
``monetary -> log1p``, then scikit-learn's ``RobustScaler`` (median / IQR: the spend distribution of
a wholesaler is very skewed and a few huge accounts must not set the scale).

Model: K-Medoids (:class:`KMedoidsPAM`, on the ``kmedoids`` package's Rust PAM/FasterPAM)
-------------------------------------------------------------------------------------------
The loss is the K-Medoids objective: the sum over all customers of the distance to the nearest
medoid. Which algorithm runs depends on n (``method="auto"``):

* ``n <= exact_max_n`` (3,000): the full n x n matrix in float64 (72 MB at 3,000) and the exact
  PAM SWAP (``kmedoids.pam``: steepest descent, best swap per iteration) from ``n_init``
  k-medoids++ (or random) starts, plus one classic BUILD start (``build_safeguard``), keeping the
  lowest loss. Including BUILD+SWAP among the candidates makes "never worse than classic PAM" a
  guarantee, not a likelihood.
* ``exact_max_n < n <= clara_threshold`` (10,000): the full matrix in float32 and FasterPAM
  (``kmedoids.fasterpam``, eager swaps, O(k) faster per iteration) from the same starts.
* ``n > clara_threshold``: CLARA. ``clara_samples`` random samples of ``clara_sample_size``
  customers (each sample also contains the best medoids found so far, as in Kaufman & Rousseeuw's
  CLARA); FasterPAM on each sample's small matrix; each candidate medoid set is scored on *all*
  customers in O(n*k) chunks (the n x n matrix is never built); the best set wins and one
  assignment pass labels everybody. Default sample size: ``min(n, max(40 + 2k, 2000))`` --
  CLARA's classic 40 + 2k is far too small for FasterPAM, which clusters 2,000 points (a 16 MB
  float32 matrix) in milliseconds; together with carrying the best medoids into every sample, ten
  samples land within a fraction of a percent of FasterPAM on the full matrix (see the tests).

Why ``clara_threshold = 10,000`` (not 20,000): the float32 n x n matrix is 4 n^2 bytes -- 400 MB
at 10k, 1.6 GB at 20k. Measured on the 2-core reference machine: at 20k the process peaks at
1.84 GB RSS and FasterPAM, which scans the whole matrix once per iteration and is memory-bandwidth
bound, needs 6-10 s per start (1.5-2 minutes with ten starts plus BUILD) -- too close to a 2 GB
worker and slower than CLARA on a million customers. At 10k: ~0.6 GB peak, ~1.8 s per start,
~20 s in all, which is still acceptable once per DAG run for results without sampling error, and
covers any realistic B2B customer base. Above 10k, CLARA is far cheaper (100k customers: ~2 s,
~0.25 GB) and, measured on 10k customers, within 0.01 % of FasterPAM on the full matrix.
Exact PAM (below ``exact_max_n``) is the slow one per point: ~1.4 s per start at n = 3,000 (about
15 s with ten starts), against ~0.15 s for FasterPAM.
Distances to medoids (loss, labels, predict) are always recomputed in float64.

Determinism: every random choice derives from ``random_state`` (restart seeds, CLARA samples);
FasterPAM runs single-threaded (its multi-threaded variant is not reproducible) -- the same data
and ``random_state`` give the same medoids, labels and names.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import kmedoids
import numpy as np
import pandas as pd
from sklearn import config_context
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.metrics import (
    calinski_harabasz_score,
    davies_bouldin_score,
    pairwise_distances,
    silhouette_score,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import RobustScaler
from sklearn.utils import check_random_state
from vehicle_sales.segments.model_selection import choose_model, evaluate_models
from vehicle_sales.segments.naming import name_segments, rfm_scores

__all__ = [
    "RFM_COLUMNS", "RFMTransformer", "make_preprocessor", "KMedoidsPAM", "clustering_metrics",
    "SegmentationResult", "fit_segments", "name_segments", "evaluate_models", "choose_model",
]

RFM_COLUMNS: tuple[str, str, str] = ("recency_days", "frequency", "monetary")
FEATURE_NAMES_OUT: tuple[str, str, str] = ("recency_neg_sqrt", "frequency_log1p", "monetary_log1p")
METRICS: tuple[str, ...] = ("euclidean", "manhattan", "cosine")
INITS: tuple[str, ...] = ("k-medoids++", "build", "random")
METHODS: tuple[str, ...] = ("auto", "pam", "fasterpam", "clara")
SILHOUETTE_MAX_SAMPLE = 10_000  # silhouette is O(n^2): above this, it is computed on a random sample
_ASSIGN_CHUNK = 65_536          # rows per chunk in the O(n*k) passes (distances to the medoids)
_MATRIX_BLOCK_BYTES = 64 << 20  # float64 scratch per block while filling a float32 n x n matrix
_WORKING_MEMORY_MB = 64         # sklearn chunking budget for the silhouette's distance blocks


# --------------------------------------------------------------------------- preprocessing

def _rfm_array(X: Any) -> np.ndarray:
    """(n, 3) float64 from a DataFrame (columns by name, else the 3 columns in order) or an array."""
    if isinstance(X, pd.DataFrame):
        if all(c in X.columns for c in RFM_COLUMNS):
            X = X[list(RFM_COLUMNS)]
        elif X.shape[1] != 3:
            missing = [c for c in RFM_COLUMNS if c not in X.columns]
            raise ValueError(f"RFM input needs the columns {list(RFM_COLUMNS)} (missing: {missing})")
        try:
            arr = X.to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"RFM values must be numeric: {exc}") from exc
    else:
        try:
            arr = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"RFM values must be numeric: {exc}") from exc
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"RFM input must be 2-D with 3 columns {list(RFM_COLUMNS)}, got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError("RFM input has no rows")
    bad = ~np.isfinite(arr)
    if bad.any():
        detail = ", ".join(f"{c}: {int(n)}" for c, n in zip(RFM_COLUMNS, bad.sum(axis=0), strict=True) if n)
        raise ValueError(f"RFM values must be finite (missing/NaN/inf found -- {detail})")
    neg = arr < 0
    if neg.any():
        detail = ", ".join(f"{c}: {int(n)} (min {arr[:, j].min():g})"
                           for j, (c, n) in enumerate(zip(RFM_COLUMNS, neg.sum(axis=0), strict=True)) if n)
        raise ValueError(f"RFM values must be non-negative (negative values -- {detail})")
    return arr


class RFMTransformer(TransformerMixin, BaseEstimator):
    """(recency_days, frequency, monetary) -> (-sqrt(recency), log1p(frequency), log1p(monetary)).

    Stateless. Accepts a DataFrame (the three columns by name, other columns ignored; or exactly
    three columns in that order) or an (n, 3) array. Raises ``ValueError`` on missing, non-finite,
    negative or non-numeric values.
    """

    def fit(self, X, y=None):
        _rfm_array(X)
        self.n_features_in_ = 3
        return self

    def transform(self, X):
        arr = _rfm_array(X)
        return np.column_stack([-np.sqrt(arr[:, 0]), np.log1p(arr[:, 1]), np.log1p(arr[:, 2])])

    def get_feature_names_out(self, input_features=None):
        return np.asarray(FEATURE_NAMES_OUT, dtype=object)


def make_preprocessor() -> Pipeline:
    """The notebook's preprocessing: RFM transform then RobustScaler."""
    return Pipeline([("rfm", RFMTransformer()), ("scale", RobustScaler())])


# --------------------------------------------------------------------------- distances

def _check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise ValueError(f"metric={metric!r} is not supported; use one of {METRICS}")
    return metric


def pairwise(A: np.ndarray, B: np.ndarray | None = None, metric: str = "euclidean") -> np.ndarray:
    """Distances between the rows of A and B (B None: A with itself), float64, with
    ``sklearn.metrics.pairwise_distances``. Euclidean goes through its exact route (``minkowski``,
    p=2: direct differences) rather than the dot-product expansion, whose cancellation error
    (~1e-8) would make the distance of a medoid to itself non-zero and the loss depend on how the
    distances were batched."""
    if metric == "euclidean":
        return pairwise_distances(A, B, metric="minkowski", p=2)
    return pairwise_distances(A, B, metric=metric)


def _to_medoids(X: np.ndarray, centers: np.ndarray, metric: str, chunk: int = _ASSIGN_CHUNK):
    """Yield (start, (rows, k) float64 distances to the centers) chunk by chunk: O(chunk * k) memory."""
    for start in range(0, X.shape[0], chunk):
        yield start, pairwise(X[start:start + chunk], centers, metric)


def assign_to_medoids(X: np.ndarray, centers: np.ndarray, metric: str) -> tuple[np.ndarray, float]:
    """Labels (index of the nearest center, first on ties) and the loss (sum of those distances)."""
    labels = np.empty(X.shape[0], dtype=np.intp)
    loss = 0.0
    for start, d in _to_medoids(X, centers, metric):
        lab = d.argmin(axis=1)
        labels[start:start + d.shape[0]] = lab
        loss += float(d[np.arange(d.shape[0]), lab].sum())
    return labels, loss


def _loss_to_medoids(X: np.ndarray, centers: np.ndarray, metric: str) -> float:
    return float(sum(d.min(axis=1).sum() for _, d in _to_medoids(X, centers, metric)))


def distance_matrix(X: np.ndarray, metric: str, dtype=np.float64) -> np.ndarray:
    """The full n x n distance matrix; float32 is filled block by block (no float64 n x n copy)."""
    n = X.shape[0]
    if np.dtype(dtype) == np.float64:
        return np.ascontiguousarray(pairwise(X, None, metric), dtype=np.float64)
    D = np.empty((n, n), dtype=dtype)
    block = max(1, _MATRIX_BLOCK_BYTES // (8 * max(n, 1)))
    for start in range(0, n, block):
        D[start:start + block] = pairwise(X[start:start + block], X, metric)
    np.fill_diagonal(D, 0)
    return D


# --------------------------------------------------------------------------- initialisation

def kmedoids_plusplus(D: np.ndarray, k: int, rng: np.random.RandomState,
                      n_local_trials: int | None = None) -> np.ndarray:
    """Greedy k-medoids++ seeding on a distance matrix (as k-means++: D^2 sampling, best of
    ``2 + log k`` candidates per step). Returns k distinct indices."""
    n = D.shape[0]
    if n_local_trials is None:
        n_local_trials = 2 + int(math.log(k))
    centers = [int(rng.randint(n))]
    closest = D[centers[0]].astype(np.float64) ** 2
    pot = closest.sum()
    for _ in range(1, k):
        if pot <= 0:  # every point coincides with a chosen medoid: any unused point will do
            unused = np.setdiff1d(np.arange(n), centers)
            centers.append(int(unused[rng.randint(unused.size)]))
            closest = np.minimum(closest, D[centers[-1]].astype(np.float64) ** 2)
            pot = closest.sum()
            continue
        cand = np.searchsorted(np.cumsum(closest), rng.random_sample(n_local_trials) * pot, side="right")
        cand = np.unique(np.clip(cand, 0, n - 1))
        cand = cand[closest[cand] > 0] if (closest[cand] > 0).any() else cand
        cand_closest = np.minimum(closest, D[cand].astype(np.float64) ** 2)
        pots = cand_closest.sum(axis=1)
        best = int(pots.argmin())
        centers.append(int(cand[best]))
        closest, pot = cand_closest[best], pots[best]
    out = np.asarray(centers, dtype=np.intp)
    if np.unique(out).size < k:  # only possible with fewer distinct points than k
        rest = np.setdiff1d(np.arange(n), out)[: k - np.unique(out).size]
        out = np.concatenate([np.unique(out), rest])
    return out


def _initial_medoids(D: np.ndarray, k: int, init: str, rng: np.random.RandomState) -> np.ndarray:
    if init == "k-medoids++":
        return kmedoids_plusplus(D, k, rng)
    if init == "random":
        return rng.choice(D.shape[0], k, replace=False).astype(np.intp)
    if init == "build":
        return np.asarray(kmedoids.pam_build(D, k).medoids, dtype=np.intp)
    raise ValueError(f"init={init!r} is not supported; use one of {INITS}")


def _swap(D: np.ndarray, medoids: np.ndarray, algo: str, max_iter: int):
    """Run PAM SWAP or FasterPAM from the given medoids; returns (medoids, n_iter)."""
    start = np.ascontiguousarray(medoids, dtype=np.uintp)
    if algo == "pam":
        res = kmedoids.pam(D, start, max_iter=max_iter)
    else:  # single-threaded and unshuffled: reproducible
        res = kmedoids.fasterpam(D, start, max_iter=max_iter, random_state=None, n_cpu=1)
    return np.asarray(res.medoids, dtype=np.intp), int(res.n_iter or 0)


# --------------------------------------------------------------------------- estimator

class KMedoidsPAM(ClusterMixin, BaseEstimator):
    """K-Medoids with PAM / FasterPAM swaps on a full matrix, CLARA above ``clara_threshold``.

    Parameters (see the module docstring for the algorithm choice):

    n_clusters, metric ("euclidean" | "manhattan" | "cosine"),
    init ("k-medoids++" | "build" | "random"), n_init (restarts for k-medoids++ and random; "build"
    is deterministic and runs once), method ("auto" | "pam" | "fasterpam" | "clara"), max_iter,
    random_state, exact_max_n (auto: exact PAM up to this n, FasterPAM above), clara_threshold
    (above this n: CLARA whatever the method; method="clara" forces it), clara_samples,
    clara_sample_size (None: ``min(n, max(40 + 2k, 2000))``), build_safeguard (full-matrix paths
    with k-medoids++/random starts also try one BUILD start, so the result is never worse than
    classic BUILD+SWAP PAM; model selection switches it off to compare the inits as they are).

    Fitted: ``medoid_indices_`` (rows of X, ascending), ``cluster_centers_``, ``labels_``,
    ``inertia_`` (K-Medoids loss: sum of distances to the nearest medoid), ``n_iter_`` (swap
    iterations of the winning run), ``method_used_`` ("pam" | "fasterpam" | "clara").
    """

    def __init__(self, n_clusters=3, metric="euclidean", init="k-medoids++", n_init=10, method="auto",
                 max_iter=300, random_state=0, exact_max_n=3000, clara_threshold=10000, clara_samples=10,
                 clara_sample_size=None, build_safeguard=True):
        self.n_clusters = n_clusters
        self.metric = metric
        self.init = init
        self.n_init = n_init
        self.method = method
        self.max_iter = max_iter
        self.random_state = random_state
        self.exact_max_n = exact_max_n
        self.clara_threshold = clara_threshold
        self.clara_samples = clara_samples
        self.clara_sample_size = clara_sample_size
        self.build_safeguard = build_safeguard

    # -- helpers
    def _validate(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D, got shape {X.shape}")
        if not np.isfinite(X).all():
            raise ValueError("X has non-finite values")
        _check_metric(self.metric)
        if self.init not in INITS:
            raise ValueError(f"init={self.init!r} is not supported; use one of {INITS}")
        if self.method not in METHODS:
            raise ValueError(f"method={self.method!r} is not supported; use one of {METHODS}")
        k = int(self.n_clusters)
        if k < 1:
            raise ValueError(f"n_clusters must be >= 1, got {self.n_clusters}")
        if X.shape[0] < k:
            raise ValueError(f"n_clusters={k} needs at least {k} samples, got {X.shape[0]}")
        if int(self.n_init) < 1:
            raise ValueError(f"n_init must be >= 1, got {self.n_init}")
        return X

    def _plan(self, n: int) -> str:
        if self.method == "clara" or n > self.clara_threshold:
            return "clara"
        if self.method in ("pam", "fasterpam"):
            return self.method
        return "pam" if n <= self.exact_max_n else "fasterpam"

    def _sample_size(self, n: int) -> int:
        k = int(self.n_clusters)
        size = self.clara_sample_size or max(40 + 2 * k, 2000)
        return int(min(n, max(size, k)))

    def _starts(self) -> list[tuple[str, int | None]]:
        """(init, seed) of every run: n_init seeded restarts, or one BUILD."""
        if self.init == "build":
            return [("build", None)]
        seeds = check_random_state(self.random_state).randint(0, 2**31 - 1, size=int(self.n_init))
        return [(self.init, int(s)) for s in seeds]

    def _finish(self, X: np.ndarray, medoids: np.ndarray, n_iter: int, method_used: str):
        medoids = np.sort(np.asarray(medoids, dtype=np.intp))
        self.medoid_indices_ = medoids
        self.cluster_centers_ = X[medoids].copy()
        self.labels_, self.inertia_ = assign_to_medoids(X, self.cluster_centers_, self.metric)
        self.n_iter_ = int(n_iter)
        self.method_used_ = method_used
        self.n_features_in_ = X.shape[1]
        return self

    # -- fitting
    def fit(self, X, y=None):
        X = self._validate(X)
        plan = self._plan(X.shape[0])
        if plan == "clara":
            return self._fit_clara(X)
        dtype = np.float64 if X.shape[0] <= self.exact_max_n else np.float32
        return self._fit_matrix(X, distance_matrix(X, self.metric, dtype), plan)

    def _fit_matrix(self, X: np.ndarray, D: np.ndarray, algo: str | None = None):
        """Fit from a precomputed full distance matrix of X (``algo`` None: by n, as in fit)."""
        k = int(self.n_clusters)
        algo = algo or self._plan(X.shape[0])
        if algo == "clara":
            algo = "fasterpam"
        starts = self._starts()
        if self.build_safeguard and self.init != "build":
            starts.append(("build", None))
        best = None
        for init, seed in starts:
            rng = check_random_state(seed)
            med, n_iter = _swap(D, _initial_medoids(D, k, init, rng), algo, int(self.max_iter))
            loss = float(D[:, med].min(axis=1).sum(dtype=np.float64))
            if best is None or loss < best[0]:
                best = (loss, med, n_iter)
        return self._finish(X, best[1], best[2], algo)

    def _fit_clara(self, X: np.ndarray):
        n, k = X.shape[0], int(self.n_clusters)
        size = self._sample_size(n)
        rs = check_random_state(self.random_state)
        sample_seeds = rs.randint(0, 2**31 - 1, size=max(1, int(self.clara_samples)))
        init_seeds = rs.randint(0, 2**31 - 1, size=sample_seeds.size)
        best = None
        for sample_seed, init_seed in zip(sample_seeds, init_seeds, strict=True):
            draw = check_random_state(int(sample_seed)).choice(n, size, replace=False)
            if best is not None:  # carry the best medoids so far into the sample (CLARA)
                draw = np.concatenate([best[1], draw[~np.isin(draw, best[1])]])[:size]
            idx = np.sort(draw)
            D = distance_matrix(X[idx], self.metric, np.float32)
            start = _initial_medoids(D, k, self.init, check_random_state(int(init_seed)))
            local, n_iter = _swap(D, start, "fasterpam", int(self.max_iter))
            med = np.sort(idx[local])
            loss = _loss_to_medoids(X, X[med], self.metric)
            if best is None or loss < best[0]:
                best = (loss, med, n_iter)
        return self._finish(X, best[1], best[2], "clara")

    def predict(self, X):
        """Index (0..k-1) of the nearest medoid, in O(n*k) memory-bounded chunks."""
        if not hasattr(self, "cluster_centers_"):
            raise ValueError("KMedoidsPAM is not fitted yet")
        X = np.asarray(X, dtype=np.float64)
        return assign_to_medoids(X, self.cluster_centers_, self.metric)[0]


# --------------------------------------------------------------------------- metrics

def clustering_metrics(X, labels, metric: str = "euclidean", sample_size: int | None = None,
                       random_state: int | None = 0) -> dict[str, float | None]:
    """Silhouette (in ``metric``; O(n^2), so on a random sample of ``sample_size`` points --
    default: all points up to 10,000, else 10,000), Calinski-Harabasz and Davies-Bouldin (both
    defined in euclidean space, on all points). A value is None when it is undefined (fewer than
    2 clusters present, or as many clusters as points)."""
    X = np.asarray(X, dtype=np.float64)
    labels = np.asarray(labels)
    n = X.shape[0]
    if labels.shape[0] != n:
        raise ValueError(f"{labels.shape[0]} labels for {n} points")
    out: dict[str, float | None] = {"silhouette": None, "calinski_harabasz": None, "davies_bouldin": None}
    n_labels = np.unique(labels).size
    if not 2 <= n_labels <= n - 1:
        return out
    if sample_size is None:
        sample_size = SILHOUETTE_MAX_SAMPLE
    if sample_size < n:
        idx = check_random_state(random_state).permutation(n)[:sample_size]
        xs, ls = X[idx], labels[idx]
    else:
        xs, ls = X, labels
    if 2 <= np.unique(ls).size <= xs.shape[0] - 1:
        with config_context(working_memory=_WORKING_MEMORY_MB):  # sklearn's default: 1 GB chunks
            out["silhouette"] = float(silhouette_score(xs, ls, metric=metric))
    out["calinski_harabasz"] = float(calinski_harabasz_score(X, labels))
    out["davies_bouldin"] = float(davies_bouldin_score(X, labels))
    return out


# --------------------------------------------------------------------------- result + entry point

@dataclass
class SegmentationResult:
    """One segmentation. ``labels[i]`` is customer i's cluster index; ``segment_names[c]`` the name of
    cluster c; ``medoid_indices[c]`` the row (position) of cluster c's medoid in the input."""

    labels: np.ndarray
    segment_names: list[str]
    medoid_indices: np.ndarray
    loss: float
    algorithm: str
    params: dict[str, Any]
    silhouette: float | None
    calinski_harabasz: float | None
    davies_bouldin: float | None
    fit_seconds: float
    medoid_rfm: np.ndarray | None = None       # (k, 3) raw recency_days, frequency, monetary
    medoid_scores: np.ndarray | None = None    # (k, 3) R, F, M quintile scores 1..5 (R inverted)
    segment_sizes: list[int] = field(default_factory=list)

    @property
    def n_clusters(self) -> int:
        return len(self.segment_names)

    def names_for(self, labels=None) -> list[str]:
        """Segment name per label (default: this result's labels)."""
        labels = self.labels if labels is None else labels
        return [self.segment_names[int(c)] for c in np.asarray(labels).ravel()]


def _json_param(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return [_json_param(x) for x in v.tolist()]
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (list, tuple, range)):
        return [_json_param(x) for x in v]
    return v


def fit_segments(rfm: pd.DataFrame, n_clusters: int = 3, metric: str = "euclidean", random_state: int = 0,
                 **model_params) -> SegmentationResult:
    """Preprocess, fit K-Medoids, score and name the segments of an RFM table.

    ``rfm``: one row per customer with columns customer_id, recency_days, frequency, monetary.
    ``model_params``: further :class:`KMedoidsPAM` parameters (init, n_init, method, ...).
    Deterministic for a fixed ``random_state``. ``ValueError`` on fewer customers than clusters,
    missing columns or invalid values.
    """
    if not isinstance(rfm, pd.DataFrame):
        raise ValueError("rfm must be a pandas DataFrame")
    missing = [c for c in ("customer_id", *RFM_COLUMNS) if c not in rfm.columns]
    if missing:
        raise ValueError(f"rfm is missing the columns {missing}")
    k = int(n_clusters)
    if k < 1:
        raise ValueError(f"n_clusters must be >= 1, got {n_clusters}")
    if len(rfm) < k:
        raise ValueError(f"{len(rfm)} customers cannot form {k} segments: need at least {k} customers")
    raw = _rfm_array(rfm[list(RFM_COLUMNS)])
    pre = make_preprocessor()
    X = pre.fit_transform(raw)
    model = KMedoidsPAM(n_clusters=k, metric=metric, random_state=random_state, **model_params)
    t0 = time.perf_counter()
    model.fit(X)
    fit_seconds = time.perf_counter() - t0
    silhouette_n = min(len(X), SILHOUETTE_MAX_SAMPLE)
    metrics = clustering_metrics(X, model.labels_, metric=metric, random_state=random_state)
    medoid_rfm = raw[model.medoid_indices_]
    names = name_segments(medoid_rfm, raw)
    scaler = pre.named_steps["scale"]
    params = {key: _json_param(v) for key, v in model.get_params().items()}
    params.update({
        "method_used": model.method_used_,
        "n_iter": int(model.n_iter_),
        "n_customers": int(len(rfm)),
        "preprocessing": "recency->-sqrt, frequency->log1p, monetary->log1p; RobustScaler",
        "scaler_center": [float(v) for v in scaler.center_],
        "scaler_scale": [float(v) for v in scaler.scale_],
        "silhouette_sample_size": int(silhouette_n),
    })
    if model.method_used_ == "clara":
        params["clara_sample_size_used"] = model._sample_size(len(X))
    return SegmentationResult(
        labels=np.asarray(model.labels_, dtype=np.intp),
        segment_names=names,
        medoid_indices=np.asarray(model.medoid_indices_, dtype=np.intp),
        loss=float(model.inertia_),
        algorithm=f"pam-{model.method_used_}/{model.init}",
        params=params,
        silhouette=metrics["silhouette"],
        calinski_harabasz=metrics["calinski_harabasz"],
        davies_bouldin=metrics["davies_bouldin"],
        fit_seconds=float(fit_seconds),
        medoid_rfm=medoid_rfm,
        medoid_scores=rfm_scores(medoid_rfm, raw),
        segment_sizes=[int(c) for c in np.bincount(model.labels_, minlength=k)],
    )

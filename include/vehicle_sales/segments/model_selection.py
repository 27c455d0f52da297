"""Model selection for the segmentation: every (algorithm, k, metric, init) scored, and a rule to pick one.

:func:`evaluate_models` fits K-Medoids (:class:`vehicle_sales.segments.kmedoids.KMedoidsPAM`) for every k,
metric and init, and K-Means (euclidean only: inits k-means++ and random) for every k, on already
preprocessed data (``make_preprocessor().fit_transform(rfm)``). The distance matrix of a metric is
computed once and shared by all its fits (its time is added to each row's ``fit_seconds``, so a row
reads as the cost of that model alone).

Columns: algorithm ("pam" | "kmeans"), k, metric, init, silhouette, silhouette_own_metric,
calinski_harabasz, davies_bouldin, loss, fit_seconds, method_used, n_iter.

* ``silhouette`` is measured in the euclidean (scaled RFM) space for *every* row, like
  Calinski-Harabasz and Davies-Bouldin, which are euclidean by definition: one yardstick, so rows of
  different metrics can be ranked together. (A cosine silhouette of a cosine clustering is not
  comparable with a euclidean one.) ``silhouette_own_metric`` is the silhouette in the row's metric.
* ``loss``: K-Medoids loss (sum of distances to the nearest medoid, in the row's metric) for PAM;
  K-Means inertia (sum of *squared* euclidean distances to the centroid) for K-Means -- losses are
  only comparable within one (algorithm, metric).
* K-Medoids rows run without the BUILD safeguard (see ``KMedoidsPAM.build_safeguard``), so the three
  inits are compared as they are.
* Speed: 45 K-Medoids fits is a lot of PAM. By default the rows use FasterPAM swaps
  (``method="fasterpam"``: the same swap neighbourhood as PAM, so it ends in the same kind of local
  optimum, 5-10x faster), in order (no shuffle, no scouts) and 3 restarts (``n_init=3``); pass
  ``method="auto", n_init="auto"`` to score exactly what
  :func:`~vehicle_sales.segments.fit.fit_segments` will run. Measured on the 2-core
  reference machine: ~1.5 s for 500 customers, ~28 s for 3,000 (defaults).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from vehicle_sales.segments.kmedoids import KMedoidsPAM, distance_matrix
from vehicle_sales.segments.metrics import clustering_metrics

KMEANS_INITS: tuple[str, ...] = ("k-means++", "random")
COLUMNS: tuple[str, ...] = (
    "algorithm",
    "k",
    "metric",
    "init",
    "silhouette",
    "silhouette_own_metric",
    "calinski_harabasz",
    "davies_bouldin",
    "loss",
    "fit_seconds",
    "method_used",
    "n_iter",
)
_METRIC_ORDER = ("euclidean", "manhattan", "cosine")
_INIT_ORDER = ("k-medoids++", "build", "random", "k-means++")


def evaluate_models(
    X_scaled: np.ndarray,
    ks=range(2, 7),
    metrics=("euclidean", "manhattan", "cosine"),
    inits=("k-medoids++", "build", "random"),
    include_kmeans: bool = True,
    random_state: int = 0,
    *,
    n_init: int = 3,
    method: str = "fasterpam",
    silhouette_sample_size: int | None = None,
) -> pd.DataFrame:
    """One row per (algorithm, k, metric, init): len(ks) * len(metrics) * len(inits) PAM rows plus
    len(ks) * 2 K-Means rows (55 with the defaults). See the module docstring for the columns."""
    from sklearn.cluster import KMeans

    X = np.asarray(X_scaled, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 2:
        raise ValueError(f"X_scaled must be 2-D with at least 2 rows, got shape {X.shape}")
    ks = [int(k) for k in ks]
    if not ks or min(ks) < 2 or max(ks) > X.shape[0]:
        raise ValueError(f"ks must be within 2..{X.shape[0]} (n samples), got {ks}")
    rows: list[dict[str, Any]] = []

    def scored(algorithm, k, metric, init, labels, loss, seconds, method_used, n_iter):
        euclid = clustering_metrics(X, labels, "euclidean", silhouette_sample_size, random_state)
        own = (
            euclid
            if metric == "euclidean"
            else clustering_metrics(X, labels, metric, silhouette_sample_size, random_state)
        )
        rows.append(
            {
                "algorithm": algorithm,
                "k": k,
                "metric": metric,
                "init": init,
                "silhouette": euclid["silhouette"],
                "silhouette_own_metric": own["silhouette"],
                "calinski_harabasz": euclid["calinski_harabasz"],
                "davies_bouldin": euclid["davies_bouldin"],
                "loss": float(loss),
                "fit_seconds": float(seconds),
                "method_used": method_used,
                "n_iter": int(n_iter),
            }
        )

    for metric in metrics:
        probe = KMedoidsPAM(n_clusters=max(ks), metric=metric, method=method)
        full = probe.method_for(X.shape[0]) != "clara"
        matrix_seconds, D = 0.0, None
        if full:
            t0 = time.perf_counter()
            D = distance_matrix(X, metric, probe.matrix_dtype_for(X.shape[0]))
            matrix_seconds = time.perf_counter() - t0
        for k in ks:
            for init in inits:
                model = KMedoidsPAM(
                    n_clusters=k,
                    metric=metric,
                    init=init,
                    n_init=n_init,
                    method=method,
                    random_state=random_state,
                    build_safeguard=False,
                )
                t0 = time.perf_counter()
                model.fit(X, distances=D)
                seconds = time.perf_counter() - t0 + matrix_seconds
                scored(
                    "pam",
                    k,
                    metric,
                    init,
                    model.labels_,
                    model.inertia_,
                    seconds,
                    model.method_used_,
                    model.n_iter_,
                )
        del D
    if include_kmeans:
        for k in ks:
            for init in KMEANS_INITS:
                km = KMeans(n_clusters=k, init=init, n_init=n_init, random_state=random_state)
                t0 = time.perf_counter()
                km.fit(X)
                seconds = time.perf_counter() - t0
                scored("kmeans", k, "euclidean", init, km.labels_, km.inertia_, seconds, "lloyd", km.n_iter_)
    return pd.DataFrame(rows, columns=list(COLUMNS))


def choose_model(table: pd.DataFrame) -> dict[str, Any]:
    """Pick one row of :func:`evaluate_models`' table.

    Rule: only K-Medoids rows (``algorithm == "pam"``; all rows if there are none) compete. Each row
    is ranked three times -- silhouette (higher is better), Davies-Bouldin (lower is better),
    Calinski-Harabasz (higher is better); average ranks on ties, a missing value ranks last -- and
    the row with the best (lowest) mean rank wins. Ties go to the smaller k, then to the metric
    order euclidean, manhattan, cosine, then to the init order k-medoids++, build, random.

    Returns the chosen row as a dict of plain Python values, plus ``mean_rank``.
    """
    if table is None or len(table) == 0:
        raise ValueError("empty model-selection table")
    cand = table[table["algorithm"] == "pam"] if (table["algorithm"] == "pam").any() else table
    cand = cand.copy()
    for col in ("silhouette", "calinski_harabasz", "davies_bouldin"):
        cand[col] = pd.to_numeric(cand[col], errors="coerce")
    ranks = pd.concat(
        [
            cand["silhouette"].rank(ascending=False, method="average", na_option="bottom"),
            cand["davies_bouldin"].rank(ascending=True, method="average", na_option="bottom"),
            cand["calinski_harabasz"].rank(ascending=False, method="average", na_option="bottom"),
        ],
        axis=1,
    )
    cand["mean_rank"] = ranks.mean(axis=1)
    cand["_metric"] = [
        (_METRIC_ORDER.index(m) if m in _METRIC_ORDER else len(_METRIC_ORDER)) for m in cand["metric"]
    ]
    cand["_init"] = [(_INIT_ORDER.index(i) if i in _INIT_ORDER else len(_INIT_ORDER)) for i in cand["init"]]
    best = cand.sort_values(["mean_rank", "k", "_metric", "_init"], kind="mergesort").iloc[0]
    out: dict[str, Any] = {}
    for key, value in best.drop(["_metric", "_init"]).items():
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, float) and np.isnan(value):
            value = None
        out[str(key)] = value
    return out

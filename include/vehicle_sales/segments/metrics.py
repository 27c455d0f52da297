"""Clustering quality: silhouette (sampled above 10,000 points), Calinski-Harabasz, Davies-Bouldin."""

from __future__ import annotations

import numpy as np
from sklearn import config_context
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score
from sklearn.utils import check_random_state

__all__ = ["SILHOUETTE_MAX_SAMPLE", "clustering_metrics"]

SILHOUETTE_MAX_SAMPLE = 10_000  # silhouette is O(n^2): above this, it is computed on a random sample
_WORKING_MEMORY_MB = 64  # sklearn chunking budget for the silhouette's distance blocks


def clustering_metrics(
    X, labels, metric: str = "euclidean", sample_size: int | None = None, random_state: int | None = 0
) -> dict[str, float | None]:
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

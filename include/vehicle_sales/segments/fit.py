"""The segmentation of one RFM snapshot: which model (the configured one, or the best of a model
selection), then preprocess, fit K-Medoids, score and name. Pure: no database, no Airflow; the DAG's
``fit_segments`` task calls :func:`choose_model_for` and :func:`fit_segments`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from vehicle_sales.segments.kmedoids import KMedoidsPAM, distance_matrix
from vehicle_sales.segments.metrics import SILHOUETTE_MATRIX_MIN, SILHOUETTE_MAX_SAMPLE, clustering_metrics
from vehicle_sales.segments.model_selection import choose_model, evaluate_models
from vehicle_sales.segments.naming import name_segments, rfm_scores, value_order
from vehicle_sales.segments.preprocessing import RFM_COLUMNS, check_rfm, make_preprocessor

__all__ = ["SELECTION_SAMPLE", "ModelChoice", "SegmentationResult", "choose_model_for", "fit_segments"]

SELECTION_SAMPLE = 3000  # model selection fits 55 models: a sample keeps it to seconds at any size


@dataclass(frozen=True)
class ModelChoice:
    """The model to fit: k, metric and init, and the model-selection table when one ran."""

    n_clusters: int
    metric: str
    init: str = "k-medoids++"
    table: pd.DataFrame | None = None  # one row per model, with a 'chosen' column
    sample_size: int | None = None  # customers the selection was run on

    @property
    def selection_rows(self) -> list[dict[str, Any]] | None:
        return None if self.table is None else self.table.to_dict("records")


def choose_model_for(
    rfm: pd.DataFrame,
    n_clusters: int,
    metric: str,
    model_selection: bool,
    random_state: int = 0,
    sample_size: int = SELECTION_SAMPLE,
) -> ModelChoice:
    """The configured model, or with ``model_selection`` the best K-Medoids model of
    :func:`~vehicle_sales.segments.model_selection.evaluate_models` over k, metric and init, on a
    random sample of at most ``sample_size`` customers."""
    if not model_selection:
        return ModelChoice(int(n_clusters), metric)
    sample = rfm.sample(min(len(rfm), sample_size), random_state=random_state)
    scaled = make_preprocessor().fit_transform(sample[list(RFM_COLUMNS)])
    table = evaluate_models(scaled, random_state=random_state)
    chosen = choose_model(table)
    table["chosen"] = [
        (r.algorithm, r.k, r.metric, r.init)
        == (chosen["algorithm"], chosen["k"], chosen["metric"], chosen["init"])
        for r in table.itertuples()
    ]
    return ModelChoice(int(chosen["k"]), chosen["metric"], chosen["init"], table, len(sample))


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
    medoid_rfm: np.ndarray | None = None  # (k, 3) raw recency_days, frequency, monetary
    medoid_scores: np.ndarray | None = None  # (k, 3) R, F, M quintile scores 1..5 (R inverted)
    segment_sizes: list[int] = field(default_factory=list)
    value_order: list[int] = field(default_factory=list)  # clusters, most valuable first

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


def fit_segments(
    rfm: pd.DataFrame, n_clusters: int = 3, metric: str = "euclidean", random_state: int = 0, **model_params
) -> SegmentationResult:
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
    raw = check_rfm(rfm[list(RFM_COLUMNS)])
    pre = make_preprocessor()
    X = pre.fit_transform(raw)
    model = KMedoidsPAM(n_clusters=k, metric=metric, random_state=random_state, **model_params)
    t0 = time.perf_counter()
    # above exact PAM's sizes, the fit's int32 (fixed-point) matrix is built here and shared with the
    # silhouette (a ratio of mean distances: the scale drops out)
    n = len(X)
    share = model.method_for(n) != "clara" and n > SILHOUETTE_MATRIX_MIN
    D = distance_matrix(X, metric, model.matrix_dtype_for(n)) if share else None
    model.fit(X, distances=D)
    fit_seconds = time.perf_counter() - t0
    silhouette_n = min(n, SILHOUETTE_MAX_SAMPLE)
    metrics = clustering_metrics(X, model.labels_, metric=metric, random_state=random_state, distances=D)
    del D
    medoid_rfm = raw[model.medoid_indices_]
    names = name_segments(medoid_rfm, raw)
    scaler = pre.named_steps["scale"]
    params = {key: _json_param(v) for key, v in model.get_params().items()}
    params.update(
        {
            "method_used": model.method_used_,
            "n_iter": int(model.n_iter_),
            "n_customers": int(len(rfm)),
            "preprocessing": "recency->-sqrt, frequency->log1p, monetary->log1p; RobustScaler",
            "scaler_center": [float(v) for v in scaler.center_],
            "scaler_scale": [float(v) for v in scaler.scale_],
            "silhouette_sample_size": int(silhouette_n),
        }
    )
    if model.method_used_ == "clara":
        params["clara_sample_size_used"] = model.sample_size_
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
        value_order=value_order(medoid_rfm, raw),
    )

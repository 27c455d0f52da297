"""Persist a segmentation: the fit of a run (rfm_fit*), then its publication
(sql/segments/load_segments.sql)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import psycopg

from vehicle_sales.common import sql
from vehicle_sales.common.locks import Lock, take_xact_lock

if TYPE_CHECKING:
    from vehicle_sales.segments.fit import SegmentationResult

SEGMENT_DESCRIPTIONS = {
    "Champion": "Very recent, very frequent, top spend",
    "Potential Loyalist": "Above average on recency, frequency and spend",
    "Hibernating": "Long since the last order, low frequency and spend",
}


def _clean(value: Any) -> Any:
    """JSON-safe: numpy scalars to Python, NaN/inf to None."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def fit_payload(result: SegmentationResult, selection: list[dict] | None = None) -> dict[str, Any]:
    """What rfm_fit.result stores for a SegmentationResult (segments most valuable first)."""
    segments = [
        {
            "label": result.segment_names[c],
            "value_rank": rank + 1,
            "description": SEGMENT_DESCRIPTIONS.get(result.segment_names[c]),
        }
        for rank, c in enumerate(result.value_order)
    ]
    return {
        "n_clusters": result.n_clusters,
        "algorithm": result.algorithm,
        "params": {k: _clean(v) for k, v in result.params.items()},
        "silhouette": _clean(result.silhouette),
        "calinski_harabasz": _clean(result.calinski_harabasz),
        "davies_bouldin": _clean(result.davies_bouldin),
        "loss": _clean(result.loss),
        "fit_seconds": _clean(result.fit_seconds),
        "segments": segments,
        "model_selection": [{k: _clean(v) for k, v in row.items()} for row in (selection or [])],
    }


def save_fit(
    conn: psycopg.Connection,
    run_id: int,
    customer_ids: Iterable[int],
    result: SegmentationResult,
    payload: dict[str, Any],
) -> None:
    """Replace the stored fit of ``run_id``: the payload and each customer's segment label
    (``customer_ids`` in the order the result's labels follow). One transaction, committed."""
    ids = [int(c) for c in customer_ids]
    medoids = {ids[i] for i in result.medoid_indices}
    conn.execute("DELETE FROM rfm_fit_assignment WHERE run_id = %s", (run_id,))
    conn.execute(
        "INSERT INTO rfm_fit (run_id, result) VALUES (%s, %s::jsonb)"
        " ON CONFLICT (run_id) DO UPDATE SET result = EXCLUDED.result, fitted_at = now()",
        (run_id, json.dumps(payload)),
    )
    with (
        conn.cursor() as cur,
        cur.copy("COPY rfm_fit_assignment (run_id, customer_id, segment_label, is_medoid) FROM STDIN") as cp,
    ):
        for customer_id, label in zip(ids, result.names_for(), strict=True):
            cp.write_row((run_id, customer_id, label, customer_id in medoids))
    conn.execute("UPDATE rfm_run SET status = 'fitted' WHERE run_id = %s", (run_id,))
    conn.commit()


def publish(conn: psycopg.Connection, run_id: int) -> dict[str, int]:
    """Write the run and its results in one transaction; returns counts for the log."""
    take_xact_lock(conn, Lock.SEGMENTS)
    if conn.execute("SELECT 1 FROM rfm_fit WHERE run_id = %s", (run_id,)).fetchone() is None:
        raise RuntimeError(f"rfm_run {run_id} has no fit to load: run fit_segments first")
    sql.run(conn, "segments/load_segments.sql", {"run_id": run_id})
    history = conn.execute(
        "SELECT count(*) FROM customer_segment_history WHERE run_id = %s", (run_id,)
    ).fetchone()[0]
    current = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE run_id = %s) FROM customer_segments", (run_id,)
    ).fetchone()
    conn.commit()
    return {"history_rows": history, "current_segments": current[0], "current_from_this_run": current[1]}

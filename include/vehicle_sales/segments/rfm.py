"""RFM per customer, as of a date, computed set-based in PostgreSQL (sql/segments/compute_rfm.sql).

One ``rfm_run`` row per Airflow run: re-running the same Airflow run reuses its row and replaces
its results, so a run never has two versions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

import psycopg

from vehicle_sales.common import sql


@dataclass(frozen=True)
class RfmSettings:
    as_of: date
    statuses: tuple[str, ...] = ("Shipped", "Resolved")
    lookback_days: int = 0
    recency_reference: str = "last_order"


def start_run(conn: psycopg.Connection, settings: RfmSettings, dag_id: str, dag_run_id: str) -> int:
    """Create (or reset, on a re-run) the rfm_run of this Airflow run; returns its run_id."""
    run_id = sql.run(
        conn,
        "segments/start_run.sql",
        {
            "as_of": settings.as_of,
            "statuses": list(settings.statuses),
            "lookback_days": settings.lookback_days,
            "recency_reference": settings.recency_reference,
            "dag_id": dag_id,
            "dag_run_id": dag_run_id,
        },
    ).fetchone()[0]
    for table in ("rfm_fit", "rfm_fit_assignment", "rfm_model_selection", "customer_segment_history"):
        conn.execute(f"DELETE FROM {table} WHERE run_id = %s", (run_id,))
    return run_id


def compute_snapshot(conn: psycopg.Connection, run_id: int, settings: RfmSettings) -> int:
    """Fill rfm_snapshot for ``run_id``; returns the number of customers."""
    sql.run(
        conn,
        "segments/compute_rfm.sql",
        {
            "run_id": run_id,
            "as_of": settings.as_of,
            "statuses": list(settings.statuses),
            "lookback_days": settings.lookback_days,
            "recency_reference": settings.recency_reference,
        },
    )
    return conn.execute("SELECT n_customers FROM rfm_run WHERE run_id = %s", (run_id,)).fetchone()[0]


def no_orders_reason(settings: RfmSettings) -> str:
    """Why a snapshot has no customers (the skip reason of compute_rfm)."""
    window = f" within {settings.lookback_days} days" if settings.lookback_days else ""
    return (
        f"no qualifying orders (status in {', '.join(settings.statuses)}) dated on or before "
        f"{settings.as_of}{window}"
    )


def mark_run(conn: psycopg.Connection, run_id: int, status: str, note: dict | None = None) -> None:
    conn.execute(
        "UPDATE rfm_run SET status = %s, params = coalesce(params, '{}'::jsonb) || %s::jsonb"
        " WHERE run_id = %s",
        (status, json.dumps(note or {}), run_id),
    )


def load_snapshot(conn: psycopg.Connection, run_id: int):
    """The run's RFM table as a DataFrame (one row per customer: small, never order lines)."""
    import pandas as pd

    rows = conn.execute(
        "SELECT customer_id, recency_days, frequency, monetary_amt::float8 FROM rfm_snapshot"
        " WHERE run_id = %s ORDER BY customer_id",
        (run_id,),
    ).fetchall()
    return pd.DataFrame(rows, columns=["customer_id", "recency_days", "frequency", "monetary"])

"""Database access: one psycopg 3 connection per task, attributed to the Airflow run.

Every session a task opens sets ``vehicle_sales.dag_id/run_id/task_id``; the audit triggers read
them, so an auditor can tell a backfill from a manual fix (see sql/migrations/V002).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import psycopg

log = logging.getLogger(__name__)

SALES_DB_CONN_ID = "sales_db"


@dataclass(frozen=True)
class Actor:
    """Who is changing the warehouse: the Airflow dag, run and task."""

    dag_id: str = ""
    run_id: str = ""
    task_id: str = ""

    @classmethod
    def from_context(cls, context: dict[str, Any]) -> Actor:
        ti = context.get("ti") or context.get("task_instance")
        dag_run = context.get("dag_run")
        return cls(
            dag_id=getattr(ti, "dag_id", "") or "",
            run_id=getattr(dag_run, "run_id", "") or getattr(ti, "run_id", "") or "",
            task_id=getattr(ti, "task_id", "") or "",
        )


def set_actor(conn: psycopg.Connection, actor: Actor) -> None:
    """Attribute this session's changes (read by the audit triggers) to ``actor``."""
    conn.execute(
        "SELECT set_config('vehicle_sales.dag_id', %s, false), set_config('vehicle_sales.run_id', %s, false),"
        " set_config('vehicle_sales.task_id', %s, false)",
        (actor.dag_id, actor.run_id, actor.task_id),
    )


def connect(conn_id: str = SALES_DB_CONN_ID, actor: Actor | None = None) -> psycopg.Connection:
    """Open a psycopg 3 connection for the Airflow connection ``conn_id`` (autocommit off)."""
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    conn = PostgresHook(postgres_conn_id=conn_id).get_conn()
    if not isinstance(conn, psycopg.Connection):  # pragma: no cover - guards a provider change
        raise RuntimeError(f"connection {conn_id!r} did not give a psycopg 3 connection: {type(conn)!r}")
    conn.autocommit = False
    if actor is not None:
        set_actor(conn, actor)
        conn.commit()
    return conn


def get_watermark(conn: psycopg.Connection, target: str) -> int:
    row = conn.execute("SELECT last_id FROM etl_watermark WHERE target = %s", (target,)).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def set_watermark(conn: psycopg.Connection, target: str, last_id: int) -> None:
    conn.execute(
        "INSERT INTO etl_watermark (target, last_id, updated_at) VALUES (%s, %s, now())"
        " ON CONFLICT (target) DO UPDATE SET last_id = EXCLUDED.last_id, updated_at = now()",
        (target, last_id),
    )

"""Database access: one psycopg 3 connection per task, attributed to the Airflow run.

Every session a task opens sets ``vehicle_sales.dag_id/run_id/task_id``; the audit triggers read
them, so an auditor can tell a backfill from a manual fix (see sql/migrations/V002).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import psycopg

from vehicle_sales.common.errors import PermanentError

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


class WarehouseConfigError(PermanentError):
    """The warehouse connection is wrong (no such database or role, bad password): retrying cannot help."""


class WarehouseUnavailable(ConnectionError):
    """The warehouse did not answer (down, unreachable, refusing): a retry may succeed."""


_PERMANENT = ("does not exist", "password authentication failed", "no password supplied", "authentication")


def connection_error(conn_id: str, hook, exc: Exception) -> Exception:
    """A connection failure that says which connection, host and database failed, and what to check."""
    try:
        c = hook.get_connection(conn_id)
        where = f"host {c.host or 'localhost'}, port {c.port or 5432}, database {c.schema or '(default)'}, user {c.login or '(default)'}"
    except Exception:  # noqa: BLE001 - the message must not fail
        where = "its settings could not be read"
    cause = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if any(word in cause for word in _PERMANENT):
        return WarehouseConfigError(
            f"connection {conn_id!r} ({where}) was refused: {cause}. Check the database name, the user and "
            f"its password in the Airflow connection {conn_id!r}"
        )
    return WarehouseUnavailable(
        f"could not reach the warehouse through connection {conn_id!r} ({where}): {cause}. Check that "
        "the server runs and that this worker can reach that host and port"
    )


def connect(conn_id: str = SALES_DB_CONN_ID, actor: Actor | None = None) -> psycopg.Connection:
    """Open a psycopg 3 connection for the Airflow connection ``conn_id`` (autocommit off).
    WarehouseConfigError (permanent) or WarehouseUnavailable (retried) name what failed."""
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    hook = PostgresHook(postgres_conn_id=conn_id)
    try:
        conn = hook.get_conn()
    except psycopg.OperationalError as exc:
        raise connection_error(conn_id, hook, exc) from None
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

"""The data-quality gates a run passes before its segments are published (task check_quality):
``sql/checks/quality_gates.sql``, one row per gate."""

from __future__ import annotations

import psycopg

from vehicle_sales.common import sql
from vehicle_sales.common.errors import PermanentError

__all__ = ["QualityGateError", "gate_failures"]


class QualityGateError(PermanentError):
    """A data-quality gate failed: the run's segments are not published."""


def gate_failures(conn: psycopg.Connection, run_id: int) -> tuple[int, list[str]]:
    """(number of gates, '<gate>: <detail>' for each that failed)."""
    gates = sql.run(conn, "checks/quality_gates.sql", {"run_id": run_id}).fetchall()
    return len(gates), [f"{gate}: {detail}" for gate, ok, detail in gates if not ok]

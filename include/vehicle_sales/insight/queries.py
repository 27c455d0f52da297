"""Reads of the insight views (``sql/schema/views.sql``) through ``sql/insight/*.sql``: one small
function per question, each returning plain dicts. No Airflow, no web: the report task and the UI
page both call these."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row

from vehicle_sales.common import sql

__all__ = [
    "Matrix",
    "customer",
    "customer_history",
    "escape_like",
    "movers",
    "report_file",
    "report_files",
    "run_segments",
    "runs",
    "search_customers",
    "transition_matrix",
    "transitions",
    "trend",
]

NEW, GONE = "(new)", "(gone)"


def _rows(conn: psycopg.Connection, name: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql.script(name), params)
        return cur.fetchall()


def runs(conn: psycopg.Connection, limit: int = 1000) -> list[dict[str, Any]]:
    """Loaded runs, newest as-of date first, each with its previous comparable run."""
    return _rows(conn, "insight/runs.sql", {"limit": limit})


def run_segments(conn: psycopg.Connection, run_id: int) -> list[dict[str, Any]]:
    return _rows(conn, "insight/run_segments.sql", {"run_id": run_id})


def trend(conn: psycopg.Connection, run_id: int) -> list[dict[str, Any]]:
    """Segment sizes and shares per as-of date over the runs comparable with ``run_id``."""
    return _rows(conn, "insight/trend.sql", {"run_id": run_id})


def transitions(conn: psycopg.Connection, from_run: int | None, to_run: int) -> list[dict[str, Any]]:
    """(from, to) pairs with customers and revenue; ``from_run`` None: everybody is new."""
    return _rows(conn, "insight/transitions.sql", {"from_run": from_run, "to_run": to_run})


def movers(
    conn: psycopg.Connection, from_run: int, to_run: int, movement: str, limit: int = 10
) -> list[dict[str, Any]]:
    """The customers who moved ``movement`` ("down" or "up") in value, by revenue, largest first."""
    if movement not in ("down", "up"):
        raise ValueError(f"movement must be 'down' or 'up', got {movement!r}")
    return _rows(
        conn,
        "insight/movers.sql",
        {"from_run": from_run, "to_run": to_run, "movement": movement, "limit": limit},
    )


def escape_like(text: str) -> str:
    """``text`` as a literal inside an ILIKE pattern (backslash is PostgreSQL's default escape)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_customers(conn: psycopg.Connection, text: str, limit: int = 50) -> list[dict[str, Any]]:
    """Customers by a part of their company or contact name, or by id."""
    text = text.strip()
    if not text:
        return []
    customer_id = int(text) if text.isdigit() and len(text) < 18 else None
    return _rows(
        conn,
        "insight/customer_search.sql",
        {"pattern": f"%{escape_like(text)}%", "customer_id": customer_id, "limit": limit},
    )


def customer(conn: psycopg.Connection, customer_id: int) -> dict[str, Any] | None:
    rows = _rows(conn, "insight/customer.sql", {"customer_id": customer_id})
    return rows[0] if rows else None


def customer_history(conn: psycopg.Connection, customer_id: int) -> list[dict[str, Any]]:
    return _rows(conn, "insight/customer_history.sql", {"customer_id": customer_id})


def report_files(conn: psycopg.Connection, run_id: int) -> list[dict[str, Any]]:
    return _rows(conn, "insight/report_files.sql", {"run_id": run_id})


def report_file(conn: psycopg.Connection, run_id: int, name: str) -> tuple[str, bytes] | None:
    rows = _rows(conn, "insight/report_file.sql", {"run_id": run_id, "name": name})
    return (rows[0]["content_type"], bytes(rows[0]["content"])) if rows else None


@dataclass(frozen=True)
class Matrix:
    """A transition matrix: row labels (from), column labels (to), and per cell (customers, revenue)."""

    rows: list[str]
    columns: list[str]
    cells: dict[tuple[str, str], tuple[int, float]]

    def customers(self, frm: str, to: str) -> int:
        return self.cells.get((frm, to), (0, 0.0))[0]

    def revenue(self, frm: str, to: str) -> float:
        return self.cells.get((frm, to), (0, 0.0))[1]

    @property
    def total(self) -> int:
        return sum(c for c, _ in self.cells.values())


def transition_matrix(rows: list[dict[str, Any]]) -> Matrix:
    """The matrix of :func:`transitions` rows: segments most valuable first, '(new)' as the last row
    and '(gone)' as the last column (pure)."""

    from_ranks: dict[str, int | None] = {}
    to_ranks: dict[str, int | None] = {}
    cells: dict[tuple[str, str], tuple[int, float]] = {}
    for r in rows:
        from_ranks.setdefault(r["from_segment"], r["from_value_rank"])
        to_ranks.setdefault(r["to_segment"], r["to_value_rank"])
        customers, revenue = cells.get((r["from_segment"], r["to_segment"]), (0, 0.0))
        cells[(r["from_segment"], r["to_segment"])] = (
            customers + int(r["customers"]),
            revenue + float(r["revenue"] or 0),
        )
    # one axis of segment names for both sides, so the diagonal means "stayed"
    named = {
        **{k: v for k, v in to_ranks.items() if k != GONE},
        **{k: v for k, v in from_ranks.items() if k != NEW},
    }
    segments = [
        label for _, label in sorted((10**6 if r is None else r, label) for label, r in named.items())
    ]
    return Matrix(
        rows=segments + ([NEW] if NEW in from_ranks else []),
        columns=segments + ([GONE] if GONE in to_ranks else []),
        cells=cells,
    )

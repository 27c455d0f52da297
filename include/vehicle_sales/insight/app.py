"""The RFM page of the Airflow UI: a FastAPI app that ``plugins/rfm_insight.py`` mounts on the API
server at ``/rfm``, read from the warehouse through connection ``sales_db``.

Every route requires a user Airflow has authenticated, with the API server's own dependency
(``requires_authenticated``: the UI's JWT cookie, which the iframe of the page sends, or an
``Authorization: Bearer`` token); without one the API server answers 401, with an invalid one 403.
Every value from the data goes through Jinja's autoescaping (customer names are user data), the
charts are escaped SVG (:mod:`vehicle_sales.insight.charts`), and the stored report files are
served with a restrictive Content-Security-Policy.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import psycopg
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from vehicle_sales.insight import charts, queries

__all__ = ["create_app", "render"]

TEMPLATES = Path(__file__).parent / "templates"
REPORT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
REPORT_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'self'"
MOVERS = 10


@lru_cache(maxsize=1)
def _environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["pct"] = lambda v: "–" if v is None else f"{float(v):.1%}"
    env.filters["money"] = lambda v: "–" if v is None else f"{float(v):,.0f}"
    env.filters["num"] = lambda v, d=1: "–" if v is None else f"{float(v):,.{d}f}"
    return env


def render(template: str, **context: Any) -> str:
    """A page of ``templates/`` with autoescaping on (pure: tests render pages without a server)."""
    return _environment().get_template(template).render(**context)


def _connect_sales_db() -> psycopg.Connection:
    from vehicle_sales.common.db import connect

    conn = connect()
    conn.read_only = True  # the page never writes
    return conn


def _authenticated() -> list[Any]:
    """The API server's authentication dependency (imported only inside the API server)."""
    from airflow.api_fastapi.core_api.security import requires_authenticated

    return [Depends(requires_authenticated())]


def overview_context(conn: psycopg.Connection, from_run: int | None, to_run: int | None) -> dict[str, Any]:
    """What the overview shows: the latest (or chosen) run, its segments and charts, the trend, the
    transition matrix between the chosen pair (default: the run and its previous snapshot) and the
    biggest movers."""
    runs = queries.runs(conn)
    if not runs:
        return {"runs": [], "run": None}
    by_id = {r["run_id"]: r for r in runs}
    if to_run is not None and to_run not in by_id:
        raise HTTPException(404, f"no loaded run {to_run}")
    if from_run is not None and from_run not in by_id:
        raise HTTPException(404, f"no loaded run {from_run}")
    run = by_id[to_run] if to_run is not None else runs[0]
    base = from_run if from_run is not None else run["previous_run_id"]
    segments = queries.run_segments(conn, run["run_id"])
    trend = queries.trend(conn, run["run_id"])
    dates = sorted({str(t["as_of_date"]) for t in trend})
    names = sorted({(t["value_rank"] or 99, t["segment"]) for t in trend})
    share = {(str(t["as_of_date"]), t["segment"]): t for t in trend}

    def series(key: str) -> dict[str, list[float | None]]:
        return {n: [share[(d, n)][key] if (d, n) in share else None for d in dates] for _, n in names}

    matrix = queries.transition_matrix(queries.transitions(conn, base, run["run_id"]))
    return {
        "runs": runs,
        "run": run,
        "base_run": by_id.get(base),
        "segments": segments,
        "segments_svg": charts.bars_svg(
            [s["segment"] for s in segments],
            {
                "customers": [s["customer_share"] for s in segments],
                "revenue": [s["revenue_share"] or 0 for s in segments],
            },
            f"Segments as of {run['as_of_date']}: share of customers and revenue",
        ),
        "trend_dates": dates,
        "trend_customers_svg": charts.lines_svg(
            dates, series("customer_share"), "Share of customers by as-of date"
        ),
        "trend_revenue_svg": charts.lines_svg(
            dates, series("revenue_share"), "Share of revenue by as-of date"
        ),
        "matrix": matrix,
        "movers_down": queries.movers(conn, base, run["run_id"], "down", MOVERS) if base else [],
        "movers_up": queries.movers(conn, base, run["run_id"], "up", MOVERS) if base else [],
        "report_files": queries.report_files(conn, run["run_id"]),
    }


def create_app(
    connect: Callable[[], psycopg.Connection] = _connect_sales_db, dependencies: list | None = None
) -> FastAPI:
    """The app. ``connect`` opens a warehouse connection per request; ``dependencies`` default to
    the API server's authentication (only there can they be resolved)."""
    app = FastAPI(
        title="RFM segments",
        dependencies=_authenticated() if dependencies is None else dependencies,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )

    @contextmanager
    def db() -> Iterator[psycopg.Connection]:
        conn = connect()
        try:
            yield conn
        finally:
            conn.close()

    def page(request: Request, template: str, **context: Any) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return HTMLResponse(render(template, root=root, **context))

    @app.get("/", response_class=HTMLResponse)
    def overview(
        request: Request, from_run: int | None = Query(None), to_run: int | None = Query(None)
    ) -> HTMLResponse:
        with db() as conn:
            return page(request, "overview.html", **overview_context(conn, from_run, to_run))

    @app.get("/customers", response_class=HTMLResponse)
    def search(request: Request, q: str = Query("", max_length=200)) -> HTMLResponse:
        with db() as conn:
            return page(request, "customers.html", q=q, customers=queries.search_customers(conn, q))

    @app.get("/customers/{customer_id}", response_class=HTMLResponse)
    def customer(request: Request, customer_id: int) -> HTMLResponse:
        with db() as conn:
            who = queries.customer(conn, customer_id)
            if who is None:
                raise HTTPException(404, f"no customer {customer_id}")
            history = queries.customer_history(conn, customer_id)
        return page(request, "customer.html", customer=who, history=history)

    @app.get("/reports/{run_id}/{name}")
    def report_file(run_id: int, name: str) -> Response:
        if not REPORT_NAME.match(name):
            raise HTTPException(404, "no such report file")
        with db() as conn:
            found = queries.report_file(conn, run_id, name)
        if found is None:
            raise HTTPException(404, f"run {run_id} has no stored report file {name}")
        content_type, content = found
        return Response(
            content,
            media_type=content_type,
            headers={"Content-Security-Policy": REPORT_CSP, "X-Content-Type-Options": "nosniff"},
        )

    @app.get("/api/runs")
    def api_runs() -> JSONResponse:
        with db() as conn:
            rows = queries.runs(conn)
        return JSONResponse([_jsonable(r) for r in rows])

    @app.get("/api/transitions")
    def api_transitions(to_run: int, from_run: int | None = None) -> JSONResponse:
        with db() as conn:
            rows = queries.transitions(conn, from_run, to_run)
        return JSONResponse([_jsonable(r) for r in rows])

    return app


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    from datetime import date, datetime
    from decimal import Decimal

    def one(v: Any) -> Any:
        if isinstance(v, Decimal):
            return float(v)
        if isinstance(v, (date, datetime)):
            return v.isoformat()
        return v

    return {k: one(v) for k, v in row.items()}

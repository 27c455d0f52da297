"""Helpers shared by the tests: export files to feed the pipeline, queries on a warehouse, runs of the
real DAG. One module, imported as ``support`` (pyproject's pytest ``pythonpath`` includes tests/)."""

from __future__ import annotations

import csv
import json
import re
import socket
import time
from datetime import UTC, datetime
from html import unescape
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from vehicle_sales.common.columns import COLUMNS
from vehicle_sales.common.sql import render_template
from vehicle_sales.ingest.download import FetchedFile, fingerprint, register
from vehicle_sales.ingest.staging import StageCounts, stage_file
from vehicle_sales.segments.publish import publish

ROOT = Path(__file__).resolve().parents[1]

# --- export files: a known-good row and ways to break it ---------------------------------------
GOOD = {
    "ORDERNUMBER": "10100",
    "QUANTITYORDERED": "30",
    "PRICEEACH": "95.70",
    "ORDERLINENUMBER": "1",
    "SALES": "2871.00",
    "ORDERDATE": "2/24/2003 0:00",
    "STATUS": "Shipped",
    "QTR_ID": "1",
    "MONTH_ID": "2",
    "YEAR_ID": "2003",
    "PRODUCTLINE": "Motorcycles",
    "MSRP": "95",
    "PRODUCTCODE": "S10_1678",
    "CUSTOMERNAME": "Berglunds snabbköp",
    "PHONE": "0921-12 3555",
    "ADDRESSLINE1": "Berguvsvägen 8",
    "ADDRESSLINE2": "",
    "CITY": "Luleå",
    "STATE": "",
    "POSTALCODE": "S-958 22",
    "COUNTRY": "Sweden",
    "TERRITORY": "EMEA",
    "CONTACTLASTNAME": "Berglund",
    "CONTACTFIRSTNAME": "Christina",
    "DEALSIZE": "Small",
}


def row(**changes: str) -> list[str]:
    """The good row with some fields changed, in COLUMNS order."""
    values = {**GOOD, **changes}
    return [values[c] for c in COLUMNS]


def write_csv(
    path: Path,
    rows: list[list[str]],
    header: list[str] | None = None,
    encoding: str = "cp1252",
    lineterminator: str = "\r\n",
) -> Path:
    with open(path, "w", encoding=encoding, newline="") as fh:
        w = csv.writer(fh, lineterminator=lineterminator)
        w.writerow(list(COLUMNS) if header is None else header)
        w.writerows(rows)
    return path


# --- the warehouse -----------------------------------------------------------------------------
def query(url: str, sql: str, *args: Any) -> list[tuple]:
    """All rows of one statement on the database at ``url``."""
    with psycopg.connect(url) as c:
        return c.execute(sql, args).fetchall()


def ingest(
    conn: psycopg.Connection,
    path: Path,
    codec: str = "cp1252",
    use_fast_path: bool = True,
    mixed: bool = False,
) -> StageCounts:
    """download_raw's registration and stage_raw's staging of a local file (committed)."""
    sha, size, lines = fingerprint(path)
    reg = register(conn, FetchedFile(path, str(path), sha, size, lines), lines, "test")
    return stage_file(conn, path, reg.file_id, codec, use_fast_path=use_fast_path, mixed=mixed)


def refresh_core(conn: psycopg.Connection, run_id: str = "test") -> list[tuple]:
    """The refresh_core task's template, run as that task would (committed); returns its table (the
    last statement's rows, as the operator's return_last shows them in the task log)."""
    cur = conn.execute(
        render_template(
            "ingest/refresh_core.sql", dag_id="vehicle_sales_rfm", run_id=run_id, task_id="refresh_core"
        )
    )
    while cur.nextset():
        pass
    rows = cur.fetchall()
    conn.commit()
    return rows


def table_counts(conn: psycopg.Connection) -> dict[str, int]:
    tables = (
        "raw_orders_csv",
        "raw_orders_rejects",
        "customers",
        "addresses",
        "products",
        "orders",
        "order_lines",
    )
    return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}


# --- the DAG -----------------------------------------------------------------------------------
def get_dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert not bag.import_errors, bag.import_errors
    return bag.dags["vehicle_sales_rfm"]


def run_dag(day: str, conf: dict | None = None, run_after: datetime | None = None):
    """dag.test() for logical date ``day``; returns (dag_run, {task_id: state}).

    The run_id derives from ``run_after``: passing the same value again re-runs the same DAG run.
    """
    logical = datetime.fromisoformat(day).replace(tzinfo=UTC)
    dr = get_dag().test(logical_date=logical, run_conf=conf or {}, run_after=run_after)
    states = {ti.task_id: getattr(ti.state, "value", ti.state) for ti in dr.get_task_instances()}
    return dr, states


# --- segment insight ----------------------------------------------------------------------------
SEGMENT_RANKS = {"Champion": 1, "Potential Loyalist": 2, "Hibernating": 3}


def loaded_run(
    conn, ids, as_of: str, segments: dict[str, tuple[str, float]], k: int = 3, run: str | None = None
):
    """A run as compute_rfm + fit_segments leave it, then published by load_segments: ``segments``
    maps a customer to (label, monetary)."""
    run_id = conn.execute(
        "INSERT INTO rfm_run (as_of_date, end_date, order_statuses, lookback_days, recency_reference,"
        " airflow_dag_id, airflow_run_id, status) VALUES (%s, %s, '{Shipped,Resolved}', NULL, 'as_of',"
        " 'vehicle_sales_rfm', %s, 'computed') RETURNING run_id",
        (as_of, as_of, run or f"manual__{as_of}_k{k}"),
    ).fetchone()[0]
    for name, (_, monetary) in segments.items():
        conn.execute(
            "INSERT INTO rfm_snapshot (run_id, customer_id, recency_days, frequency, monetary_amt)"
            " VALUES (%s, %s, 10, 2, %s)",
            (run_id, ids[name], monetary),
        )
        conn.execute(
            "INSERT INTO rfm_fit_assignment VALUES (%s, %s, %s, false)",
            (run_id, ids[name], segments[name][0]),
        )
    result = {
        "n_clusters": k,
        "algorithm": "pam-pam/k-medoids++",
        "params": {"metric": "euclidean", "random_state": 0},
        "segments": [{"label": label, "value_rank": rank} for label, rank in SEGMENT_RANKS.items()],
    }
    conn.execute("INSERT INTO rfm_fit (run_id, result) VALUES (%s, %s::jsonb)", (run_id, json.dumps(result)))
    conn.commit()
    publish(conn, run_id)
    return run_id


def matrix_cells(page: str) -> dict[tuple[str, str], int]:
    """The transition matrix of an RFM page: (from, to) -> customers, from the cells' data attributes."""
    return {
        (unescape(f), unescape(t)): int(n)
        for f, t, n in re.findall(r'data-from="([^"]*)" data-to="([^"]*)" data-customers="(\d+)"', page)
    }


# an independent computation of the transitions from the history table (no view, no function)
TRANSITIONS_BY_HAND = """
SELECT coalesce(df.label, '(new)'), coalesce(dt.label, '(gone)'), count(*)
FROM (SELECT * FROM customer_segment_history WHERE run_id = %s) f
FULL JOIN (SELECT * FROM customer_segment_history WHERE run_id = %s) t USING (customer_id)
LEFT JOIN rfm_segment_def df ON df.segment_id = f.segment_id
LEFT JOIN rfm_segment_def dt ON dt.segment_id = t.segment_id
GROUP BY 1, 2
"""


# --- a running Airflow, through its REST API v2 -----------------------------------------------------
DAG_ID = "vehicle_sales_rfm"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Api:
    """A tiny REST API v2 client with a bearer token."""

    def __init__(self, base: str, user: str, password: str):
        self.base = base
        r = requests.post(f"{base}/auth/token", json={"username": user, "password": password}, timeout=30)
        assert r.status_code in (200, 201), r.text
        self.headers = {"Authorization": f"Bearer {r.json()['access_token']}"}

    def call(self, method: str, path: str, expect: tuple[int, ...] = (200,), **kw) -> requests.Response:
        r = requests.request(
            method,
            f"{self.base}/api/v2{path}",
            headers={**self.headers, **kw.pop("headers", {})},
            timeout=60,
            **kw,
        )
        assert r.status_code in expect, f"{method} {path}: {r.status_code} {r.text[:500]}"
        return r

    def runs(self, **params) -> list[dict]:
        return self.call("GET", f"/dags/{DAG_ID}/dagRuns", params={"limit": 100, **params}).json()["dag_runs"]

    def wait_run(self, run_id: str, timeout: float = 600) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.call("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}").json()
            if run["state"] in ("success", "failed"):
                if run["state"] == "failed":
                    tis = self.call("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances").json()
                    states = {t["task_id"]: t["state"] for t in tis["task_instances"]}
                    pytest.fail(f"run {run_id} failed: {states}")
                return run
            time.sleep(2)
        pytest.fail(f"run {run_id} did not finish within {timeout:.0f} s")

    def log_response(self, run_id: str, task_id: str, attempt: int = 1) -> requests.Response:
        return self.call(
            "GET",
            f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{attempt}",
            headers={"Accept": "application/json"},
        )

    def log_text(self, run_id: str, task_id: str, attempt: int = 1) -> str:
        content = self.log_response(run_id, task_id, attempt).json()["content"]
        return "\n".join(e.get("event", "") if isinstance(e, dict) else str(e) for e in content)

    def task_instance(self, run_id: str, task_id: str) -> dict:
        return self.call("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}").json()

    def all_log_bodies(self, run_id: str, task_id: str) -> list[str]:
        """The raw API answers (every field of every entry) of all attempts of a task instance."""
        tries = max(1, self.task_instance(run_id, task_id).get("try_number") or 1)
        return [self.log_response(run_id, task_id, n).text for n in range(1, tries + 1)]


# --- comparing two warehouses ------------------------------------------------------------------------
VOLATILE_COLUMNS = {
    "airflow_run_id",
    "changed_by",
    "source_uri",
    "calculated_on",
    "params",
    "result",
    "content",
}


def warehouse_state(url: str) -> dict[str, tuple[int, str]]:
    """Per table: (rows, md5 of the sorted rows) over the columns that mean something across two
    warehouses fed the same data -- surrogate keys (``*_id``) are replaced by what they point at
    (company name, as-of date, segment label), timestamps and Airflow run ids left out, audit
    tables and the event log left out (a retried task may log or audit the same change twice). Two runs of the same dates
    have the same state whichever worker ran what, and however often."""
    state = {}
    with psycopg.connect(url) as c:
        tables = [
            r[0]
            for r in c.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
                " AND table_type = 'BASE TABLE' AND table_name NOT LIKE '%%audit%%'"
                " AND table_name NOT IN ('schema_version', 'schema_definitions', 'pipeline_events') ORDER BY 1"
            )
        ]
        for t in tables:
            cols = [
                r[0]
                for r in c.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public'"
                    " AND table_name = %s ORDER BY ordinal_position",
                    (t,),
                )
            ]
            exprs, joins = [], []
            if "customer_id" in cols and t != "customers":
                joins.append("LEFT JOIN customers k_c ON k_c.customer_id = x.customer_id")
                exprs.append("k_c.company_name::text")
            if "run_id" in cols and t != "rfm_run":
                joins.append("LEFT JOIN rfm_run k_r ON k_r.run_id = x.run_id")
                exprs.append("k_r.as_of_date::text")
            if "segment_id" in cols and t != "rfm_segment_def":
                joins.append("LEFT JOIN rfm_segment_def k_s ON k_s.segment_id = x.segment_id")
                exprs.append("k_s.label::text")
            exprs += [
                f'x."{col}"::text'
                for col in cols
                if not col.endswith(("_id", "_at", "_on")) and col not in VOLATILE_COLUMNS
            ]
            exprs = exprs or ["''"]  # nothing but keys (a work table's picks): its rows are counted
            rows = f"SELECT concat_ws('|', {', '.join(exprs)}) AS r FROM \"{t}\" x {' '.join(joins)}"
            state[t] = tuple(
                c.execute(
                    f"SELECT count(*), md5(coalesce(string_agg(r, E'\\n' ORDER BY r), '')) FROM ({rows}) q"
                ).fetchone()
            )
    return state

"""Helpers shared by the tests: export files to feed the pipeline, queries on a warehouse, runs of the
real DAG. One module, imported as ``support`` (pyproject's pytest ``pythonpath`` includes tests/)."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from vehicle_sales.common.columns import COLUMNS
from vehicle_sales.common.sql import render_template
from vehicle_sales.ingest.download import FetchedFile, fingerprint, register
from vehicle_sales.ingest.staging import StageCounts, stage_file

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
    conn: psycopg.Connection, path: Path, codec: str = "cp1252", use_fast_path: bool = True
) -> StageCounts:
    """download_raw's registration and stage_raw's staging of a local file (committed)."""
    sha, size, lines = fingerprint(path)
    reg = register(conn, FetchedFile(path, str(path), sha, size, lines), lines, "test")
    return stage_file(conn, path, reg.file_id, codec, use_fast_path=use_fast_path)


def refresh_core(conn: psycopg.Connection, run_id: str = "test") -> list[tuple]:
    """The refresh_core task's template, run as that task would (committed); returns its table."""
    cur = conn.execute(
        render_template(
            "ingest/refresh_core.sql", dag_id="vehicle_sales_rfm", run_id=run_id, task_id="refresh_core"
        )
    )
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

"""The DAG file imports cleanly, fast, with the expected graph and settings."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INGESTION = [
    "validate_config",
    "create_schema",
    "download_raw",
    "stage_raw",
    "load_reference_data",
    "refresh_core",
]
SEGMENTS = ["refresh_core", "compute_rfm", "fit_segments", "check_quality", "load_segments", "report"]


@pytest.fixture(scope="module")
def dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    return bag.dags["vehicle_sales_rfm"]


def test_dag_imports_without_errors_and_has_the_public_id(dag):
    assert dag.dag_id == "vehicle_sales_rfm"


def test_ingestion_chain_runs_in_story_order(dag):
    for upstream, downstream in zip(INGESTION, INGESTION[1:], strict=False):
        assert downstream in dag.get_task(upstream).downstream_task_ids, (upstream, downstream)


def test_quality_gates_stand_between_the_fit_and_publishing(dag):
    for upstream, downstream in zip(SEGMENTS, SEGMENTS[1:], strict=False):
        assert downstream in dag.get_task(upstream).downstream_task_ids, (upstream, downstream)
    assert dag.get_task("load_segments").upstream_task_ids == {"check_quality"}


def test_dag_settings_support_backfill_of_the_datas_history(dag):
    from airflow.sdk import CronDataIntervalTimetable

    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    # runs dated in the data's history (2003-2005) must not be before start_date
    assert dag.start_date is None or dag.start_date.year <= 2003
    assert dag.doc_md and "Vehicle sales" in dag.doc_md
    assert dag.tags


def test_every_task_retries_with_backoff(dag):
    for t in dag.tasks:
        assert t.retries >= 1, t.task_id
        assert t.retry_exponential_backoff, t.task_id


def test_sql_tasks_use_sqlexecutequeryoperator_on_sales_db(dag):
    from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator

    # the DagBag has already loaded each .sql template file into the task
    for task_id, marker in (("create_schema", "schema_version"), ("refresh_core", "core_refresh")):
        t = dag.get_task(task_id)
        assert isinstance(t, SQLExecuteQueryOperator)
        assert t.conn_id == "sales_db"
        assert marker in t.sql


def test_dag_file_parses_in_under_two_seconds_without_heavy_imports():
    code = (
        "import sys, time; t=time.perf_counter();"
        "from airflow.dag_processing.dagbag import DagBag;"
        f"t=time.perf_counter(); b=DagBag(dag_folder={str(ROOT / 'dags')!r}); dt=time.perf_counter()-t;"
        "assert not b.import_errors, b.import_errors;"
        "heavy=[m for m in ('pandas','sklearn','kmedoids','matplotlib','phonenumbers') if m in sys.modules];"
        "print(dt, heavy)"
    )
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seconds, heavy = out.stdout.strip().splitlines()[-1].split(" ", 1)
    assert float(seconds) < 2.0, f"DAG parse took {seconds}s"
    assert heavy == "[]", f"heavy modules imported at parse time: {heavy}"
    assert time.perf_counter() - start < 60

"""End to end on Airflow's Celery stack, without Docker: the deployment ``make airflow-celery``
starts (scripts/airflow_celery.py: API server, scheduler, DAG processor, triggerer, two Celery
workers, Flower; PostgreSQL metadata, Redis broker) in a temporary home on free ports.

The two workers stand for two machines: each records its own hostname and downloads into its own
folder, so a ``stage_raw`` that lands on the other worker than its ``download_raw`` must fetch the
export again (it is served over HTTP here, as a URL source). The log folder is shared.

Checked: a triggered run and a 3-date backfill (asking for 3 parallel runs, more than the DAG's
max_active_runs=1) succeed, with correct snapshots; task instances ran on both workers; every task
log is readable through the REST API; no secret appears in any log; and SIGKILLing the worker
running a task in the middle of a run still lets the run finish on the other worker, leaving the
warehouse in the same state as undisturbed runs of the same dates (``dag.test()`` in process).

Run alone with ``make test PYTEST_ARGS="-m celery"``. Logs land in ``artifacts/celery/``.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import sys
import threading
import time
from datetime import datetime
from functools import partial
from pathlib import Path

import psycopg
import pytest
import requests

from support import DAG_ID, Api, run_dag, warehouse_state
from vehicle_sales.common.paths import SAMPLE_CSV

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from airflow_celery import Deployment, Ports  # noqa: E402

pytestmark = pytest.mark.celery

ARTIFACTS = ROOT / "artifacts" / "celery"
TRIGGER_DATE = "2004-06-30"
BACKFILL_DATES = ["2004-10-31", "2004-11-01", "2004-11-02"]
KILL_DATES = ["2005-06-01", "2005-05-31", "2005-05-30"]  # another try if a kill came too late
SQL_TASKS = ("create_schema", "refresh_core")
LONG_TASKS = ("stage_raw", "validate_phones", "geocode_addresses", "compute_rfm", "fit_segments", "report")
ARCGIS_KEY = f"celery/arcgis+{os.urandom(4).hex()}=key"


def q(url: str, sql: str, *args):
    with psycopg.connect(url) as c:
        return c.execute(sql, args).fetchall()


@pytest.fixture(scope="module")
def export_url():
    """The bundled sample over HTTP: a URL source, which each worker downloads into its own folder."""
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(SAMPLE_CSV.parent))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/{SAMPLE_CSV.name}"
    server.shutdown()


@pytest.fixture
def deployment(fresh_db_factory, tmp_path, export_url, arcgis):
    warehouse = fresh_db_factory(with_schema=False)
    metadata = fresh_db_factory(with_schema=False).replace("postgresql://", "postgresql+psycopg2://", 1)
    dep = Deployment(
        tmp_path / "airflow-celery",
        warehouse,
        metadata,
        Ports.free(),
        extra_env={
            "AIRFLOW_VAR_SALES_SOURCE": export_url,
            "AIRFLOW_VAR_GEOCODE_ENABLED": "true",
            "AIRFLOW_CONN_ARCGIS_GEOCODING": arcgis.connection_uri(),
            # the test process's own Airflow settings must not leak in
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        },
    )
    try:
        dep.start(timeout=300)
        yield dep
    finally:
        dep.stop()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for log in dep.home.glob("*.log"):
            shutil.copy(log, ARTIFACTS / log.name)


def task_instances(api: Api, run_id: str) -> list[dict]:
    return api.call("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances").json()["task_instances"]


def wait_backfill(api: Api, backfill_id: int, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while not api.call("GET", f"/backfills/{backfill_id}").json().get("completed_at"):
        assert time.monotonic() < deadline, "the backfill did not complete"
        time.sleep(3)


def wait_running(
    api: Api, run_id: str, task_ids: tuple[str, ...], alive: set[str], timeout: float = 300
) -> dict:
    """The first of ``task_ids`` seen running (with its worker's hostname) in the run."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for t in task_instances(api, run_id):
            if t["task_id"] in task_ids and t["state"] == "running" and t["hostname"] in alive:
                return t
        time.sleep(0.3)
    pytest.fail(f"none of {task_ids} ran in {run_id} within {timeout:.0f} s")


def overlapping(runs: list[dict]) -> bool:
    spans = sorted(
        (datetime.fromisoformat(r["start_date"]), datetime.fromisoformat(r["end_date"])) for r in runs
    )
    return any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:], strict=False))


def test_celery_deployment_runs_spread_survive_a_dead_worker_and_keep_logs(
    deployment, monkeypatch, fresh_db_factory, airflow_db, export_url, arcgis
):
    t0 = time.monotonic()
    dep = deployment
    api = Api(dep.base_url, "admin", dep.admin_password)
    deadline = time.monotonic() + 180
    while api.call("GET", f"/dags/{DAG_ID}", expect=(200, 404)).status_code == 404:
        assert time.monotonic() < deadline, "the DAG was not parsed within 180 s"
        time.sleep(2)
    api.call("PATCH", f"/dags/{DAG_ID}", json={"is_paused": False})

    # 1. a triggered run
    dated = api.call(
        "POST", f"/dags/{DAG_ID}/dagRuns", json={"logical_date": f"{TRIGGER_DATE}T00:00:00Z", "conf": {}}
    ).json()
    api.wait_run(dated["dag_run_id"])

    # 2. a backfill asking for three runs at once, more than the DAG's max_active_runs=1: Airflow
    # runs them in parallel; the advisory locks keep ingestion serial and every snapshot correct
    backfill = api.call(
        "POST",
        "/backfills",
        json={
            "dag_id": DAG_ID,
            "from_date": f"{BACKFILL_DATES[0]}T00:00:00Z",
            "to_date": f"{BACKFILL_DATES[-1]}T00:00:00Z",
            "reprocess_behavior": "none",
            "max_active_runs": 3,
        },
    ).json()
    wait_backfill(api, backfill["id"])
    backfill_runs = api.runs(run_type="backfill")
    assert sorted(r["logical_date"][:10] for r in backfill_runs) == BACKFILL_DATES
    assert all(r["state"] == "success" for r in backfill_runs), [
        (r["dag_run_id"], r["state"]) for r in backfill_runs
    ]
    parallel = overlapping(backfill_runs)

    # 3. a run whose task's worker dies (SIGKILL: worker, its task processes, its log server); if
    # the task happened to finish before the signal, another date, on the surviving worker's twin
    killed_dates, victim, retried = [], None, None
    for day in KILL_DATES:
        killed = api.call(
            "POST", f"/dags/{DAG_ID}/dagRuns", json={"logical_date": f"{day}T00:00:00Z", "conf": {}}
        ).json()
        killed_dates.append(day)
        victim = wait_running(api, killed["dag_run_id"], LONG_TASKS, alive=dep.alive_workers())
        worker = {"127.0.0.1": "worker1", "127.0.0.2": "worker2"}[victim["hostname"]]
        dep.kill(worker)
        finished = api.wait_run(killed["dag_run_id"], timeout=900)
        assert finished["state"] == "success"
        retried = {t["task_id"]: t for t in task_instances(api, killed["dag_run_id"])}[victim["task_id"]]
        if retried["try_number"] >= 2:
            break
        dep.restart(worker)  # the kill came after the task had finished: bring it back, try again
    assert retried["try_number"] >= 2, f"no kill landed while a task was running: {retried}"
    assert retried["hostname"] != victim["hostname"], retried

    # 4. task instances ran on both workers; every task log is readable; no secret in any log
    runs = api.runs()
    assert all(r["state"] == "success" for r in runs), [(r["dag_run_id"], r["state"]) for r in runs]
    secrets = json.loads((dep.home / "secrets.json").read_text())
    hosts, logs = set(), []
    for run in runs:
        for ti in task_instances(api, run["dag_run_id"]):
            if ti["state"] == "skipped" and not ti["hostname"]:
                continue
            hosts.add(ti["hostname"])
            for attempt in range(1, (ti["try_number"] or 1) + 1):
                body = api.log_response(run["dag_run_id"], ti["task_id"], attempt).text
                if (
                    ti["task_id"] == victim["task_id"]
                    and run["dag_run_id"] == killed["dag_run_id"]
                    and attempt == 1
                ):
                    continue  # the killed attempt: its log may end anywhere
                # SQL tasks log their statements; Python tasks end with their summary line
                marker = "Executing" if ti["task_id"] in SQL_TASKS else f"{ti['task_id']} summary"
                assert marker in body, (run["dag_run_id"], ti["task_id"], attempt, body[:500])
                logs.append(body)
    assert hosts == {"127.0.0.1", "127.0.0.2"}, hosts
    text = "\n".join(logs)
    for name, value in {**secrets, "arcgis key": ARCGIS_KEY}.items():
        assert value not in text, f"the {name} appears in a task log"
    stage_logs = [api.log_text(r["dag_run_id"], "stage_raw") for r in runs]
    assert sum("read=3000 = loaded=3000 + duplicate=0 + rejected=0" in t for t in stage_logs) == 1
    refetched = sum("fetched it again" in t for t in stage_logs)

    # 5. the warehouse: the same as undisturbed runs of the same dates, one after the other
    warehouse = dep.sales_db_url
    reference = fresh_db_factory(with_schema=False)
    monkeypatch.setenv("AIRFLOW_CONN_SALES_DB", reference)
    monkeypatch.setenv("AIRFLOW_VAR_SALES_SOURCE", export_url)
    monkeypatch.setenv("AIRFLOW_VAR_GEOCODE_ENABLED", "true")
    monkeypatch.setenv("AIRFLOW_CONN_ARCGIS_GEOCODING", arcgis.connection_uri())
    monkeypatch.setenv("AIRFLOW_VAR_SALES_DOWNLOAD_DIR", str(dep.home / "downloads-reference"))
    monkeypatch.setenv("AIRFLOW_VAR_RFM_REPORTS_DIR", str(dep.home / "reports-reference"))
    # every date the deployment ran (the scheduled run that unpausing creates included), in the
    # order its snapshots were created
    dates = [
        d
        for (d,) in q(
            warehouse, "SELECT as_of_date::text FROM rfm_run WHERE status = 'loaded' ORDER BY run_id"
        )
    ]
    assert set(dates) >= {TRIGGER_DATE, *BACKFILL_DATES, *killed_dates} and len(dates) == len(set(dates)), (
        dates
    )
    for day in dates:
        dr, states = run_dag(day)
        assert dr.state == "success", (day, states)
    ours, theirs = warehouse_state(warehouse), warehouse_state(reference)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "warehouse_state.json").write_text(
        json.dumps({"celery": ours, "reference": theirs}, indent=1)
    )
    assert {t: (v, theirs.get(t)) for t, v in ours.items() if v != theirs.get(t)} == {}

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "timing.json").write_text(
        json.dumps(
            {
                "seconds": round(time.monotonic() - t0, 1),
                "runs": len(runs),
                "backfill_ran_in_parallel": parallel,
                "killed": {"worker": worker, "task": victim["task_id"], "retried_on": retried["hostname"]},
                "stage_raw_fetched_again": refetched,
            },
            indent=2,
        )
    )
    assert requests.get(f"{dep.base_url}/rfm/", timeout=30).status_code == 401  # the plugin, behind auth

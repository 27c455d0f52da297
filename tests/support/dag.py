"""Run the real DAG in-process with dag.test() and read back task states."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


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

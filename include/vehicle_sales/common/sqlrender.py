"""Render the Jinja SQL templates of ``sql/`` outside Airflow (tests, benchmarks, tools).

Inside the DAG, SQLExecuteQueryOperator renders the same files with the task's context.
"""

from __future__ import annotations

from types import SimpleNamespace

from vehicle_sales.common.paths import SQL_DIR


def render(name: str, dag_id: str = "", run_id: str = "", task_id: str = "", **extra) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(SQL_DIR)), autoescape=False)
    context = {"dag": SimpleNamespace(dag_id=dag_id), "run_id": run_id,
               "task": SimpleNamespace(task_id=task_id), **extra}
    return env.get_template(name).render(**context)

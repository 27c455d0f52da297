"""The SQL files of ``sql/`` (one folder per stage): how they are rendered and how they run.

Two kinds of file, each with one way of taking values:

* **templates run by SQLExecuteQueryOperator** (``schema/create_schema.sql``,
  ``ingest/refresh_core.sql``): Airflow renders them with Jinja (``{% include %}``, the macros
  below, the task's context for audit attribution). They take no bound values.
* **scripts run from Python** (every other file): Jinja only for structure (includes, macros, the
  export's column list), rendered once; values are **named psycopg parameters** ``%(name)s``,
  bound client-side so that one file may hold several statements. A literal ``%`` is ``%%``.

Both see the same macros (:data:`MACROS`): ``advisory_xact_lock(name)`` renders the statement that
takes one of :class:`vehicle_sales.common.locks.Lock`.
"""

from __future__ import annotations

from functools import lru_cache
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from vehicle_sales.common import locks
from vehicle_sales.common.paths import SQL_DIR

if TYPE_CHECKING:
    import jinja2
    import psycopg

__all__ = ["MACROS", "SQL_DIR", "environment", "render_template", "run", "script"]

# given to the DAG as user_defined_macros, so the operator's templates render the same way
MACROS: dict[str, Any] = {"advisory_xact_lock": locks.xact_lock_sql}


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The Jinja environment of ``sql/`` outside Airflow (the DAG's is configured alike)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(SQL_DIR)),
        autoescape=False,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.globals.update(MACROS)
    return env


def render_template(name: str, dag_id: str = "", run_id: str = "", task_id: str = "", **extra: Any) -> str:
    """An operator template rendered as the DAG's task would render it (for tests and tools)."""
    context = {
        "dag": SimpleNamespace(dag_id=dag_id),
        "run_id": run_id,
        "task": SimpleNamespace(task_id=task_id),
        "params": {},
        **extra,
    }
    return environment().get_template(name).render(**context)


def script(name: str, **structure: Any) -> str:
    """The text of the Python-run script ``sql/<name>``; ``structure``: Jinja values that shape
    the text (lists of column names), never run-specific values."""
    return _script(name, tuple(sorted((k, _frozen(v)) for k, v in structure.items())))


@lru_cache(maxsize=128)
def _script(name: str, structure: tuple[tuple[str, Any], ...]) -> str:
    return environment().get_template(name).render(**dict(structure))


def _frozen(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def run(
    conn: psycopg.Connection, name: str, params: dict[str, Any] | None = None, **structure: Any
) -> psycopg.ClientCursor:
    """Execute the script ``sql/<name>`` with the named ``params`` (bound client-side, so the
    script may hold several statements); returns the cursor, holding the last statement's rows."""
    import psycopg

    cur = psycopg.ClientCursor(conn)
    cur.execute(script(name, **structure), params or {})
    while cur.nextset():  # a script of several statements: its rows are the last statement's
        pass
    return cur

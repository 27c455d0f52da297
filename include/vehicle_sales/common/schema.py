"""The warehouse schema: ``sql/create_schema.sql`` and the migrations it includes.

The DAG's ``create_schema`` task runs the same template through SQLExecuteQueryOperator; this
module renders it for tests and tools that need a schema outside Airflow.
"""

from __future__ import annotations

import psycopg
from vehicle_sales.common.paths import SQL_DIR


def render_create_schema() -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(SQL_DIR)), autoescape=False)
    return env.get_template("create_schema.sql").render()


def apply_schema(conn: psycopg.Connection) -> int:
    """Create or migrate the schema in one transaction; returns the schema version."""
    conn.execute(render_create_schema())
    version = conn.execute("SELECT max(version) FROM schema_version").fetchone()[0]
    conn.commit()
    return int(version)

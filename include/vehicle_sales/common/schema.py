"""The warehouse schema outside Airflow: ``sql/schema/create_schema.sql`` for tests and tools.

The DAG's ``create_schema`` task runs the same template through SQLExecuteQueryOperator.
"""

from __future__ import annotations

import psycopg

from vehicle_sales.common.sql import render_template

CREATE_SCHEMA = "schema/create_schema.sql"


def render_create_schema() -> str:
    return render_template(CREATE_SCHEMA)


def apply_schema(conn: psycopg.Connection) -> int:
    """Create or migrate the schema in one transaction; returns the schema version."""
    conn.execute(render_create_schema())
    version = conn.execute("SELECT max(version) FROM schema_version").fetchone()[0]
    conn.commit()
    return int(version)

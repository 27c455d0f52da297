"""create_schema: idempotent on an up-to-date database, migrates an original-era database in place."""

from __future__ import annotations

from pathlib import Path

import psycopg

from vehicle_sales.common.paths import SQL_DIR
from vehicle_sales.common.schema import apply_schema

FIXTURES = Path(__file__).parent / "fixtures"
# the newest migration: sql/schema/migrations/V<version>__<what>.sql
LATEST_VERSION = max(int(f.name[1:4]) for f in (SQL_DIR / "schema" / "migrations").glob("V*.sql"))

ORIGINAL_TABLES = {
    "raw_orders_csv",
    "etl_watermark",
    "iso_country_codes",
    "iso_country_aliases",
    "customers",
    "addresses",
    "products",
    "orders",
    "order_lines",
    "rfm_run",
    "rfm_segment_def",
    "customer_segments",
    "customers_audit",
    "addresses_audit",
    "customer_segments_audit",
}
# what a schema is made of, comparable across databases (function bodies with whitespace collapsed)
SHAPE_SQL = r"""
SELECT 'col', table_name || '.' || column_name || ':' || data_type || ':' || coalesce(character_maximum_length, 0)
              || ':' || coalesce(numeric_precision, 0) || ',' || coalesce(numeric_scale, 0) || ':' || is_nullable
              || ':' || coalesce(column_default, '')
  FROM information_schema.columns WHERE table_schema = 'public'
UNION ALL SELECT 'trigger', pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal
UNION ALL SELECT 'function', proname || ':' || regexp_replace(prosrc, '\s+', ' ', 'g')
  FROM pg_proc WHERE pronamespace = 'public'::regnamespace
UNION ALL SELECT 'constraint', conrelid::regclass::text || ':' || conname || ':' || pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace = 'public'::regnamespace
UNION ALL SELECT 'index', indexdef FROM pg_indexes WHERE schemaname = 'public'
UNION ALL SELECT 'version', version || ':' || description FROM schema_version
ORDER BY 1, 2
"""
CATALOG_SQL = """
SELECT 'col', table_name || '.' || column_name || ':' || data_type FROM information_schema.columns
 WHERE table_schema = 'public'
UNION ALL SELECT 'trigger', tgname || ' on ' || tgrelid::regclass::text FROM pg_trigger WHERE NOT tgisinternal
UNION ALL SELECT 'function', proname || md5(prosrc) FROM pg_proc WHERE pronamespace = 'public'::regnamespace
UNION ALL SELECT 'constraint', conname FROM pg_constraint WHERE connamespace = 'public'::regnamespace
UNION ALL SELECT 'version', version::text || applied_at::text FROM schema_version
ORDER BY 1, 2
"""


def test_all_original_tables_and_columns_exist(conn):
    tables = {
        r[0]
        for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )
    }
    assert ORIGINAL_TABLES <= tables
    cols = {
        r[0]
        for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'rfm_run'"
        )
    }
    assert {
        "run_id",
        "start_date",
        "end_date",
        "calculated_on",
        "as_of_date",
        "n_customers",
        "n_clusters",
        "algorithm",
        "params",
        "silhouette",
        "calinski_harabasz",
        "davies_bouldin",
        "loss",
        "airflow_dag_id",
        "airflow_run_id",
    } <= cols


def test_rerunning_create_schema_on_an_up_to_date_database_changes_nothing(conn):
    before = conn.execute(CATALOG_SQL).fetchall()
    assert apply_schema(conn) == LATEST_VERSION
    assert conn.execute(CATALOG_SQL).fetchall() == before


def test_original_era_database_is_migrated_in_place_keeping_its_data(fresh_db_factory):
    url = fresh_db_factory(with_schema=False)
    v001 = (FIXTURES / "original_design.sql").read_text()
    with psycopg.connect(url) as c:
        # the original scripts' database: the 15 tables, some data, no schema_version table
        c.execute(
            "CREATE TABLE schema_version (version int PRIMARY KEY, description text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        c.execute(v001)
        c.execute("DROP TABLE schema_version")
        c.execute("INSERT INTO iso_country_codes VALUES ('SWE', 'SE', 'Sweden')")
        c.execute("INSERT INTO customers (company_name, phone) VALUES ('Old Customer AB', '0921-12 3555')")
        c.execute(
            "INSERT INTO addresses (customer_id, st_addr, city, postal_code, country_code)"
            " VALUES (1, 'Berguvsvägen 8', 'Luleå', NULL, 'SWE')"
        )
        c.commit()
        assert apply_schema(c) == LATEST_VERSION
        assert c.execute("SELECT company_name, phone FROM customers").fetchall() == [
            ("Old Customer AB", "0921-12 3555")
        ]
        st, key, status = c.execute("SELECT st_addr, source_key, geocode_status FROM addresses").fetchone()
        assert (st, status) == ("Berguvsvägen 8", "pending") and key.startswith("Berguvsvägen 8|")
        # the widened audit column now takes the attributed actor
        c.execute(
            "SELECT set_config('vehicle_sales.dag_id', 'vehicle_sales_rfm', false),"
            " set_config('vehicle_sales.run_id', 'backfill__2004-06-30T00:00:00+00:00', false),"
            " set_config('vehicle_sales.task_id', 'refresh_core', false)"
        )
        c.execute("UPDATE customers SET phone = '+46 921 123 555'")
        by, run = c.execute(
            "SELECT changed_by, airflow_run_id FROM customers_audit WHERE operation = 'U'"
        ).fetchone()
        assert by.endswith("(vehicle_sales_rfm/backfill__2004-06-30T00:00:00+00:00/refresh_core)")
        assert run == "backfill__2004-06-30T00:00:00+00:00"


def test_noop_update_writes_no_audit_row_and_keeps_updated_at(conn):
    conn.execute("INSERT INTO customers (company_name, phone) VALUES ('A', '1')")
    stamp = conn.execute("SELECT updated_at FROM customers").fetchone()[0]
    n = conn.execute("SELECT count(*) FROM customers_audit").fetchone()[0]
    conn.execute("UPDATE customers SET phone = '1'")
    assert conn.execute("SELECT count(*) FROM customers_audit").fetchone()[0] == n
    assert conn.execute("SELECT updated_at FROM customers").fetchone()[0] == stamp
    conn.execute("UPDATE customers SET phone = '2'")
    assert conn.execute(
        "SELECT operation, phone FROM customers_audit ORDER BY audit_id DESC LIMIT 1"
    ).fetchone() == ("U", "2")


def shape(url: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as c:
        return c.execute(SHAPE_SQL).fetchall()


def test_database_migrated_by_the_previous_layout_migrates_cleanly_to_the_same_schema(fresh_db_factory):
    """A warehouse created by the code of b3cfe7a (before the SQL moved by stage: frozen rendering in
    fixtures/) reaches exactly the schema a new database gets, keeping its data and audit trail."""
    old = fresh_db_factory(with_schema=False)
    with psycopg.connect(old) as c:
        c.execute((FIXTURES / "schema_v4_b3cfe7a.sql").read_text())
        c.execute("INSERT INTO customers (company_name, phone) VALUES ('Old Customer AB', '0921-12 3555')")
        c.commit()
        assert apply_schema(c) == LATEST_VERSION
        assert apply_schema(c) == LATEST_VERSION  # and again: nothing left to do
        c.execute("UPDATE customers SET phone = '+46 921 123 555'")
        assert [r[0] for r in c.execute("SELECT operation FROM customers_audit ORDER BY audit_id")] == [
            "I",
            "U",
        ]
    assert shape(old) == shape(fresh_db_factory(with_schema=True))


def test_a_fresh_schema_has_the_tables_the_previous_layout_built(fresh_db_factory):
    """Moving the SQL by stage changed no table, column, constraint or index: the previous layout's
    schema (version 4), migrated by today's create_schema (which skips V001-V004 there), has exactly
    the tables of a fresh schema."""
    old = fresh_db_factory(with_schema=False)
    with psycopg.connect(old) as c:
        c.execute((FIXTURES / "schema_v4_b3cfe7a.sql").read_text())
        c.commit()
        assert apply_schema(c) == LATEST_VERSION
    tables_only = ("col", "constraint", "index", "version")
    new = [
        r
        for r in shape(fresh_db_factory(with_schema=True))
        if r[0] in tables_only and "schema_definitions" not in r[1]
    ]
    assert new == [r for r in shape(old) if r[0] in tables_only and "schema_definitions" not in r[1]]


AUDITED_DML = [
    "INSERT INTO customers (company_name, phone) VALUES ('A AB', '1'), ('B AB', '2')",
    "UPDATE customers SET phone = '3' WHERE company_name = 'A AB'",
    "UPDATE customers SET phone = phone",  # no-op: no audit row
    "INSERT INTO iso_country_codes VALUES ('SWE', 'SE', 'Sweden')",
    "INSERT INTO addresses (customer_id, source_key, st_addr, city, country_code)"
    " SELECT customer_id, company_name, 'Street 1', 'Luleå', 'SWE' FROM customers",
    "UPDATE addresses SET city = 'Lulea' WHERE st_addr = 'Street 1'",
    "INSERT INTO rfm_run (run_id) VALUES (1)",
    "INSERT INTO rfm_segment_def (label) VALUES ('Champion')",
    "INSERT INTO customer_segments (customer_id, segment_id, run_id, recency_days, frequency, monetary_amt)"
    " SELECT customer_id, 1, 1, 10, 2, 100.5 FROM customers",
    "UPDATE customer_segments SET frequency = 3",
    "DELETE FROM customer_segments WHERE customer_id = (SELECT min(customer_id) FROM customers)",
]
AUDIT_ROWS = {
    "customers_audit": "customer_id, operation, changed_by, db_role, airflow_dag_id, airflow_run_id, airflow_task_id,"
    " company_name, phone, phone_valid",
    "addresses_audit": "address_id, operation, changed_by, st_addr, city, country_code, geocode_status",
    "customer_segments_audit": "customer_id, operation, changed_by, segment_id, run_id, frequency, monetary_amt",
}


def audit_trail(url: str) -> dict[str, list[tuple]]:
    with psycopg.connect(url) as c:
        c.execute(
            "SELECT set_config('vehicle_sales.dag_id', 'vehicle_sales_rfm', false),"
            " set_config('vehicle_sales.run_id', 'manual__1', false),"
            " set_config('vehicle_sales.task_id', 'refresh_core', false)"
        )
        for statement in AUDITED_DML:
            c.execute(statement)
        c.commit()
        return {
            t: c.execute(f"SELECT {cols} FROM {t} ORDER BY audit_id").fetchall()
            for t, cols in AUDIT_ROWS.items()
        }


def test_statement_level_audit_writes_the_rows_the_row_level_audit_wrote(fresh_db_factory):
    """The audit moved from one trigger call per row to one per statement (set-based, for bulk loads):
    the audit tables receive the same rows, in the same order, with the same attribution."""
    old = fresh_db_factory(with_schema=False)
    with psycopg.connect(old) as c:
        c.execute((FIXTURES / "schema_v4_b3cfe7a.sql").read_text())
    before, after = audit_trail(old), audit_trail(fresh_db_factory(with_schema=True))
    assert after == before
    assert [r[1] for r in after["customer_segments_audit"]] == ["I", "I", "U", "U", "D"]


def test_trigger_functions_are_defined_in_one_place_only():
    files = sorted((SQL_DIR / "schema").rglob("*.sql"))
    defining = {
        f.relative_to(SQL_DIR).as_posix()
        for f in files
        if "CREATE OR REPLACE FUNCTION audit_" in f.read_text()
        or "CREATE OR REPLACE TRIGGER" in f.read_text()
    }
    assert defining == {"schema/triggers.sql"}


def test_changed_trigger_definitions_reach_an_up_to_date_database(conn):
    conn.execute("UPDATE schema_definitions SET checksum = 'stale' WHERE name = 'triggers'")
    conn.execute(
        "CREATE OR REPLACE FUNCTION audit_actor() RETURNS text LANGUAGE sql AS $$ SELECT 'tampered' $$"
    )
    conn.commit()
    apply_schema(conn)
    assert conn.execute("SELECT audit_actor()").fetchone()[0] != "tampered"
    assert conn.execute("SELECT checksum <> 'stale' FROM schema_definitions").fetchone()[0]

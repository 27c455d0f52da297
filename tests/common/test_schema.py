"""create_schema: idempotent on an up-to-date database, migrates an original-era database in place."""

from __future__ import annotations

import psycopg
from vehicle_sales.common.paths import SQL_DIR
from vehicle_sales.common.schema import apply_schema

ORIGINAL_TABLES = {
    "raw_orders_csv", "etl_watermark", "iso_country_codes", "iso_country_aliases", "customers", "addresses",
    "products", "orders", "order_lines", "rfm_run", "rfm_segment_def", "customer_segments",
    "customers_audit", "addresses_audit", "customer_segments_audit",
}
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
    tables = {r[0] for r in conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")}
    assert ORIGINAL_TABLES <= tables
    cols = {r[0] for r in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'rfm_run'")}
    assert {"run_id", "start_date", "end_date", "calculated_on", "as_of_date", "n_customers", "n_clusters",
            "algorithm", "params", "silhouette", "calinski_harabasz", "davies_bouldin", "loss",
            "airflow_dag_id", "airflow_run_id"} <= cols


def test_rerunning_create_schema_on_an_up_to_date_database_changes_nothing(conn):
    before = conn.execute(CATALOG_SQL).fetchall()
    assert apply_schema(conn) == 4
    assert conn.execute(CATALOG_SQL).fetchall() == before


def test_original_era_database_is_migrated_in_place_keeping_its_data(fresh_db_factory):
    url = fresh_db_factory(with_schema=False)
    v001 = (SQL_DIR / "migrations" / "V001__original_design.sql").read_text()
    with psycopg.connect(url) as c:
        # the original scripts' database: the 15 tables, some data, no schema_version table
        c.execute("CREATE TABLE schema_version (version int PRIMARY KEY, description text NOT NULL,"
                  " applied_at timestamptz NOT NULL DEFAULT now())")
        c.execute(v001)
        c.execute("DROP TABLE schema_version")
        c.execute("INSERT INTO iso_country_codes VALUES ('SWE', 'SE', 'Sweden')")
        c.execute("INSERT INTO customers (company_name, phone) VALUES ('Old Customer AB', '0921-12 3555')")
        c.execute("INSERT INTO addresses (customer_id, st_addr, city, postal_code, country_code)"
                  " VALUES (1, 'Berguvsvägen 8', 'Luleå', NULL, 'SWE')")
        c.commit()
        assert apply_schema(c) == 4
        assert c.execute("SELECT company_name, phone FROM customers").fetchall() == [("Old Customer AB", "0921-12 3555")]
        st, key, status = c.execute("SELECT st_addr, source_key, geocode_status FROM addresses").fetchone()
        assert (st, status) == ("Berguvsvägen 8", "pending") and key.startswith("Berguvsvägen 8|")
        # the widened audit column now takes the attributed actor
        c.execute("SELECT set_config('vehicle_sales.dag_id', 'vehicle_sales_rfm', false),"
                  " set_config('vehicle_sales.run_id', 'backfill__2004-06-30T00:00:00+00:00', false),"
                  " set_config('vehicle_sales.task_id', 'refresh_core', false)")
        c.execute("UPDATE customers SET phone = '+46 921 123 555'")
        by, run = c.execute("SELECT changed_by, airflow_run_id FROM customers_audit WHERE operation = 'U'").fetchone()
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
    assert conn.execute("SELECT operation, phone FROM customers_audit ORDER BY audit_id DESC LIMIT 1").fetchone() == ("U", "2")

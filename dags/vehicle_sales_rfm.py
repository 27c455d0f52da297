"""
# Vehicle sales → warehouse → RFM segments

Turns the order export of a vehicle-model wholesaler (order lines with customer, contact, phone,
address, product, status and deal size) into a clean PostgreSQL warehouse (Airflow connection
`sales_db`) and a behavioural customer segmentation.

1. **Validate configuration**: Params of this run over Airflow Variables over defaults; a bad value
   fails here, before anything is written.
2. **Create or migrate the schema** (`sql/schema/create_schema.sql`): the 15 original tables plus what the
   pipeline adds; each migration applies once.
3. **Download** the export named by Variable `sales_source` (a path or http(s) URL; unset = the bundled
   sample), fingerprint it (sha256, size, rows). A file already ingested is a no-op.
4. **Stage** it into `raw_orders_csv` with COPY: encoding detected by evidence (or Variable
   `sales_source_encoding`), each row validated; bad rows go to `raw_orders_rejects` with a reason;
   duplicates are counted, conflicting duplicates rejected with both versions kept.
   The log ends with `read = loaded + duplicate + rejected`.
5. **Reference data**: ISO 3166 countries and aliases.
6. **Refresh core tables** (`sql/ingest/refresh_core.sql`): customers, addresses, products, orders and order
   lines from the rows past the `core_refresh` watermark, in one transaction.
7. **Validate phones** (phonenumbers, the customer's country as default region) for customers that
   are new or whose phone or country changed: E.164 form or the reason it is invalid; raw value kept.
8. **Geocode addresses** with the ArcGIS World Geocoding Service (connection `arcgis_geocoding`; the
   key travels in a header only): cache first, then batches; every address ends matched, low score,
   unmatched, failed (with reason and attempts) or pending. Skipped when the connection is missing.
9. **Compute RFM** as of the run's date (Param `as_of_date`, else the logical date): recency,
   frequency and monetary per customer from qualifying orders dated on or before it
   (Variables `rfm_order_statuses`, `rfm_lookback_days`, `rfm_recency_reference`).
10. **Fit segments**: −√recency, log1p frequency and monetary, RobustScaler, then K-Medoids (PAM,
   `kmedoids` package; CLARA-style above 10,000 customers). Optional model selection
   (`rfm_model_selection`). Segments are named from the medoids' RFM profile.
11. **Publish segments** in one transaction: `rfm_run` with metrics, the run's history snapshot, and each
   customer's current segment (from the latest as-of date). Re-running a run replaces its results.
12. **Report**: a per-segment table in the log, and Markdown/HTML with charts in the reports folder.

Every change to customers, addresses and segments is audited with the database role and this
run's dag/run/task. Ingestion and core refresh are serialised across runs.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator
from airflow.sdk import Asset, CronDataIntervalTimetable, dag, task

from vehicle_sales import tasks as steps

SALES_DB = "sales_db"


def warehouse_table(table: str) -> Asset:
    """Lineage for a table of the warehouse behind connection sales_db (logical host name)."""
    return Asset(
        name=f"sales_db.public.{table}",
        uri=f"postgres://sales-db:5432/warehouse/public/{table}",
        group="warehouse",
    )


RAW_ORDERS = warehouse_table("raw_orders_csv")
CORE_TABLES = [warehouse_table(t) for t in ("customers", "addresses", "products", "orders", "order_lines")]
SEGMENT_TABLES = [warehouse_table(t) for t in ("rfm_run", "customer_segments", "customer_segment_history")]


@dag(
    dag_id="vehicle_sales_rfm",
    dag_display_name="Vehicle sales → RFM segments",
    description="Order export → PostgreSQL warehouse → RFM K-Medoids customer segments",
    doc_md=__doc__,
    # a real daily window [d, d+1); the data's history (2003-2005) lies after start_date, so
    # backfills of any of its dates run every task
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=pendulum.datetime(2000, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    template_searchpath=[str(steps.SQL_DIR)],
    user_defined_macros=steps.SQL_MACROS,
    tags=["sales", "rfm", "postgres", "segmentation"],
    default_args={
        "owner": "data-engineering",
        "retries": 2,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
    },
    params=steps.dag_params(),
)
def vehicle_sales_rfm():
    config = task(task_id="validate_config", task_display_name="Validate configuration")(
        steps.validate_config
    )()

    create_schema = SQLExecuteQueryOperator(
        task_id="create_schema",
        task_display_name="Create or migrate schema",
        conn_id=SALES_DB,
        sql="schema/create_schema.sql",
        split_statements=False,
        show_return_value_in_logs=True,
        doc_md="Applies each migration of `sql/migrations/` once; an up-to-date database is unchanged.",
    )

    fetched = task(task_id="download_raw", task_display_name="Download export")(steps.download_raw)()
    staged = task(
        task_id="stage_raw", task_display_name="Stage rows (COPY + quarantine)", outlets=[RAW_ORDERS]
    )(steps.stage_raw)(fetched)
    reference = task(task_id="load_reference_data", task_display_name="Load ISO country data")(
        steps.load_reference_data
    )()

    refresh_core = SQLExecuteQueryOperator(
        task_id="refresh_core",
        task_display_name="Refresh core tables",
        conn_id=SALES_DB,
        sql="ingest/refresh_core.sql",
        split_statements=True,
        return_last=True,
        show_return_value_in_logs=True,
        do_xcom_push=False,
        inlets=[RAW_ORDERS],
        outlets=CORE_TABLES,
        doc_md="Set-based upsert from raw rows past the `core_refresh` watermark; one transaction.",
    )

    phones = task(
        task_id="validate_phones",
        task_display_name="Validate phone numbers",
        inlets=CORE_TABLES[:2],
        outlets=CORE_TABLES[:1],
    )(steps.validate_phones)()

    geocode = task(
        task_id="geocode_addresses",
        task_display_name="Geocode addresses (ArcGIS)",
        inlets=CORE_TABLES[1:2],
        outlets=CORE_TABLES[1:2],
    )(steps.geocode_addresses)()

    rfm = task(
        task_id="compute_rfm", task_display_name="Compute RFM as of the run's date", inlets=CORE_TABLES
    )(steps.compute_rfm)()
    fitted = task(task_id="fit_segments", task_display_name="Fit K-Medoids segments")(steps.fit_segments)(rfm)
    checked = task(task_id="check_quality", task_display_name="Data-quality gates")(steps.check_quality)(
        fitted
    )
    loaded = task(task_id="load_segments", task_display_name="Publish segments", outlets=SEGMENT_TABLES)(
        steps.load_segments
    )(checked)
    task(task_id="report", task_display_name="Segment report")(steps.report)(loaded)

    config >> create_schema >> fetched
    staged >> reference >> refresh_core >> [phones, geocode, rfm]


vehicle_sales_rfm()

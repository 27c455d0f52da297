"""The whole DAG through real Airflow (dag.test) into a real PostgreSQL warehouse."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

from support import row, run_dag, write_csv

ANALYSIS = ("validate_phones", "compute_rfm", "fit_segments", "check_quality", "load_segments", "report")
INGESTION = (
    "validate_config",
    "create_schema",
    "download_raw",
    "stage_raw",
    "load_reference_data",
    "refresh_core",
)

CUSTOMERS = [  # name, phone, street, city, postal, country
    ("Alpha Models AB", "0921-12 3555", "Berguvsvägen 8", "Luleå", "S-958 22", "Sweden"),
    ("Beta Replicas SL", "(91) 555 94 44", "Rambla de Cataluña, 23", "Barcelona", "08022", "Spain"),
    ("Gamma Toys Inc.", "2125557818", "897 Long Airport Avenue", "NYC", "10022", "USA"),
    ("Delta Gifts Ltd", "(171) 555-1555", "12 Baker St", "London", "WX1 6LT", "UK"),
    ("Epsilon Collect", "+47 2267 3215", "Drammensveien 126A", "Oslo", "N 0106", "Norway"),
    ("Zeta Miniatures", "40.67.8555", "54, rue Royale", "Nantes", "44000", "France"),
]


def orders_file(path, first_order=10100, n_orders=24, start_month=1, year=2003, changes=None):
    """A small export: n_orders orders spread over the customers (heavier on the first ones)."""
    rows = []
    for i in range(n_orders):
        c = CUSTOMERS[0] if i % 4 == 0 else CUSTOMERS[i % len(CUSTOMERS)]
        name, phone, street, city, postal, country = c
        if changes and name in changes:
            phone, street = changes[name]
        month = (start_month - 1 + i // 2) % 12 + 1
        y = year + (start_month - 1 + i // 2) // 12
        for line in range(1, 3):
            rows.append(
                row(
                    ORDERNUMBER=str(first_order + i),
                    ORDERLINENUMBER=str(line),
                    ORDERDATE=f"{month}/{1 + i % 27}/{y} 0:00",
                    CUSTOMERNAME=name,
                    PHONE=phone,
                    ADDRESSLINE1=street,
                    CITY=city,
                    POSTALCODE=postal,
                    COUNTRY=country,
                    PRODUCTCODE=f"S10_{1000 + line + i % 5}",
                    QUANTITYORDERED=str(20 + i),
                    SALES=f"{(20 + i) * 95.70:.2f}",
                )
            )
    return write_csv(path, rows)


def fetch(url, sql, *args):
    with psycopg.connect(url) as c:
        return c.execute(sql, args).fetchall()


def test_run_dated_in_2004_runs_every_task_and_succeeds(warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_SALES_SOURCE", str(orders_file(tmp_path / "a.csv")))
    dr, states = run_dag("2004-06-30")
    assert dr.state == "success", states
    for task_id in INGESTION + ANALYSIS:
        assert states[task_id] == "success", (task_id, states)
    assert fetch(warehouse, "SELECT count(*) FROM order_lines")[0][0] == 48
    assert fetch(warehouse, "SELECT count(*) FROM customer_segments")[0][0] == len(CUSTOMERS)
    audit = fetch(warehouse, "SELECT DISTINCT changed_by, airflow_task_id FROM customers_audit")
    assert {task for _, task in audit} == {"refresh_core", "validate_phones"}, audit
    assert all(
        by.startswith("postgres (vehicle_sales_rfm/") and by.endswith(f"/{task})") for by, task in audit
    ), audit


def test_second_file_refreshes_only_the_delta_and_audits_changes(warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_SALES_SOURCE", str(orders_file(tmp_path / "a.csv")))
    assert run_dag("2004-01-10")[0].state == "success"
    before = fetch(warehouse, "SELECT last_id FROM etl_watermark WHERE target = 'core_refresh'")[0][0]
    assert before == 48
    # a later export: 6 new orders; Alpha's phone and Beta's address changed
    changes = {
        "Alpha Models AB": ("+46 921 123 555", "Berguvsvägen 8"),
        "Beta Replicas SL": ("(91) 555 94 44", "C/ Moralzarzal, 86"),
    }
    f2 = orders_file(
        tmp_path / "b.csv", first_order=10200, n_orders=6, start_month=1, year=2004, changes=changes
    )
    monkeypatch.setenv("AIRFLOW_VAR_SALES_SOURCE", str(f2))
    dr, states = run_dag("2004-01-11")
    assert dr.state == "success", states
    after = fetch(warehouse, "SELECT last_id FROM etl_watermark WHERE target = 'core_refresh'")[0][0]
    assert after == before + 12
    event = fetch(
        warehouse,
        "SELECT details FROM pipeline_events WHERE step = 'refresh_core' ORDER BY event_id DESC LIMIT 1",
    )[0][0]
    assert event["delta_rows"] == 12 and event["watermark_before"] == before
    phone_audit = fetch(
        warehouse,
        "SELECT a.airflow_task_id, a.airflow_run_id, a.phone_e164 FROM customers_audit a"
        " JOIN customers c USING (customer_id) WHERE c.company_name = 'Alpha Models AB'"
        " AND a.operation = 'U' AND a.phone = '+46 921 123 555' ORDER BY a.audit_id",
    )
    # the refresh writes the new phone; the phone check of the same run then validates it
    assert [(task, run) for task, run, _ in phone_audit] == [
        ("refresh_core", dr.run_id),
        ("validate_phones", dr.run_id),
    ]
    assert phone_audit[-1][2] == "+46921123555"
    new_address = fetch(
        warehouse,
        "SELECT a.operation FROM addresses_audit a JOIN addresses ad USING (address_id)"
        " WHERE ad.st_addr = 'C/ Moralzarzal, 86'",
    )
    assert [r[0] for r in new_address] == ["I"]


def test_rerunning_a_run_changes_nothing(warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_SALES_SOURCE", str(orders_file(tmp_path / "a.csv")))
    same_run = datetime(2026, 1, 1, tzinfo=UTC)
    dr1 = run_dag("2004-03-01", run_after=same_run)[0]
    assert dr1.state == "success"
    snapshot_sql = (
        "SELECT (SELECT count(*) FROM customers_audit), (SELECT count(*) FROM addresses_audit),"
        " (SELECT count(*) FROM customer_segments_audit), (SELECT count(*) FROM raw_orders_csv),"
        " (SELECT count(*) FROM orders), (SELECT last_id FROM etl_watermark WHERE target='core_refresh'),"
        " (SELECT count(*) FROM rfm_run), (SELECT count(*) FROM customer_segment_history)"
    )
    first = fetch(warehouse, snapshot_sql)
    dr, states = run_dag("2004-03-01", run_after=same_run)
    assert dr.state == "success" and dr.run_id == dr1.run_id, states
    assert fetch(warehouse, snapshot_sql) == first
    # a new run of the same date is a new snapshot, not a replacement
    assert run_dag("2004-03-01")[0].state == "success"
    assert fetch(warehouse, "SELECT count(*) FROM rfm_run WHERE status = 'loaded'")[0][0] == 2


def test_missing_required_columns_fail_the_stage_task_and_load_nothing(warehouse, tmp_path, monkeypatch):
    bad = tmp_path / "bad.csv"
    bad.write_text("ORDERNUMBER,QUANTITYORDERED\n10100,30\n")
    monkeypatch.setenv("AIRFLOW_VAR_SALES_SOURCE", str(bad))
    dr, states = run_dag("2004-03-01")
    assert dr.state == "failed"
    assert states["stage_raw"] == "failed" and states["refresh_core"] in ("upstream_failed", None)
    assert fetch(warehouse, "SELECT count(*) FROM raw_orders_csv")[0][0] == 0


def test_invalid_param_fails_before_anything_is_written(warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_SALES_SOURCE", str(orders_file(tmp_path / "a.csv")))
    monkeypatch.setenv("AIRFLOW_VAR_RFM_METRIC", "chebyshev")
    dr, states = run_dag("2004-03-01")
    assert states["validate_config"] == "failed" and states["create_schema"] != "success"
    assert fetch(warehouse, "SELECT count(*) FROM source_files")[0][0] == 0

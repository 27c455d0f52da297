"""refresh_core: set-based, transactional, serialised; a dropped connection mid-way is harmless."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from support import ingest, refresh_core, row, write_csv
from vehicle_sales.common.sql import render_template
from vehicle_sales.ingest.reference import load_reference_data

TABLES_SQL = {
    "customers": "SELECT company_name, contact_last_name, contact_first_name, phone FROM customers ORDER BY 1",
    "addresses": "SELECT c.company_name, a.st_addr, a.city, a.postal_code, a.country_code, a.source_key"
    " FROM addresses a JOIN customers c USING (customer_id) ORDER BY 1, 2, 6",
    "products": "SELECT * FROM products ORDER BY 1",
    "orders": "SELECT o.order_no, c.company_name, o.order_date, o.status, o.deal_size FROM orders o"
    " JOIN customers c USING (customer_id) ORDER BY 1",
    "order_lines": "SELECT * FROM order_lines ORDER BY 1, 2",
    "watermark": "SELECT target, last_id FROM etl_watermark ORDER BY 1",
}


def export_rows():
    rows = []
    for i in range(40):
        rows.append(
            row(
                ORDERNUMBER=str(10100 + i // 3),
                ORDERLINENUMBER=str(i % 3 + 1),
                CUSTOMERNAME=f"Customer {(i // 3) % 7}",  # one customer per order
                PRODUCTCODE=f"S18_{1000 + i % 9}",
                ADDRESSLINE1=f"{(i // 3) % 7} Main Street",
                COUNTRY=["USA", "UK", "Sweden", "Atlantis"][i % 4 if i % 7 else 0],
            )
        )
    return rows


def prepared_db(url, tmp_path):
    with psycopg.connect(url) as c:
        load_reference_data(c)
        ingest(c, write_csv(tmp_path / f"{url[-6:]}.csv", export_rows()))


def state(url):
    with psycopg.connect(url) as c:
        return {name: c.execute(sql).fetchall() for name, sql in TABLES_SQL.items()}


def refresh(url):
    with psycopg.connect(url) as c:
        refresh_core(c)


def test_refresh_loads_core_tables_and_unknown_country_is_null(db_url, tmp_path):
    prepared_db(db_url, tmp_path)
    refresh(db_url)
    s = state(db_url)
    assert len(s["order_lines"]) == 40 and len(s["customers"]) == 7
    assert ("watermark" in s) and ("core_refresh", 40) in s["watermark"]
    countries = {a[4] for a in s["addresses"]}
    assert {"USA", "GBR", "SWE", None} == countries  # 'Atlantis' stays NULL
    refresh(db_url)  # nothing new: no change
    assert state(db_url) == s


def test_connection_dropped_mid_refresh_then_retry_equals_fault_free_run(fresh_db_factory, tmp_path):
    clean, faulty = fresh_db_factory(), fresh_db_factory()
    for url in (clean, faulty):
        prepared_db(url, tmp_path)
    refresh(clean)

    # hold order_lines so the refresh blocks after it has written customers..orders, then kill it
    blocker = psycopg.connect(faulty)
    blocker.execute("LOCK TABLE order_lines IN ACCESS EXCLUSIVE MODE")
    outcome: dict = {}

    def victim():
        try:
            refresh(faulty)
            outcome["ok"] = True
        except psycopg.OperationalError as exc:
            outcome["error"] = exc

    t = threading.Thread(target=victim)
    t.start()
    pid = None
    # autocommit: pg_stat_activity is a snapshot per transaction
    with psycopg.connect(faulty, autocommit=True) as admin:
        for _ in range(100):
            found = admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock' AND query LIKE '%%refresh_core: refresh customers%%'"
            ).fetchone()
            if found:
                pid = found[0]
                break
            time.sleep(0.1)
        assert pid, "the refresh never reached order_lines"
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    t.join(30)
    blocker.rollback()
    blocker.close()
    assert "error" in outcome, outcome
    assert state(faulty)["customers"] == []  # nothing of the killed transaction stayed
    refresh(faulty)  # the retry
    assert state(faulty) == state(clean)


def test_concurrent_refreshes_are_serialised(db_url, tmp_path):
    prepared_db(db_url, tmp_path)
    errors = []

    def go():
        try:
            refresh(db_url)
        except Exception as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=go) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len(state(db_url)["order_lines"]) == 40


@pytest.mark.parametrize("name", ["ingest/refresh_core.sql", "schema/create_schema.sql"])
def test_sql_templates_render_without_airflow(name):
    assert "SELECT" in render_template(name, dag_id="d", run_id="r'x", task_id="t")


# two address texts with one key (concat_ws skips the empty ADDRESSLINE2 of the first, the empty STATE
# of the second): the address keeps the fields of whichever arrived first
_SPLIT_A = {"ADDRESSLINE1": "1 Main", "ADDRESSLINE2": "", "CITY": "Paris", "STATE": "IDF"}
_SPLIT_B = {"ADDRESSLINE1": "1 Main", "ADDRESSLINE2": "Paris", "CITY": "IDF", "STATE": ""}


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [(_SPLIT_A, _SPLIT_B, (None, "Paris", "IDF")), (_SPLIT_B, _SPLIT_A, ("Paris", "IDF", None))],
    ids=["A-first", "B-first"],
)
def test_an_address_has_its_first_rows_fields_and_a_customer_its_latest_non_blank_contact(
    fresh_db_factory, tmp_path, first, second, expected
):
    url = fresh_db_factory()
    name = "Acme Models"
    rows = [
        row(ORDERNUMBER="10100", CUSTOMERNAME=name, CONTACTLASTNAME="Old", PHONE="555-0100", **first),
        row(ORDERNUMBER="10101", CUSTOMERNAME=name, CONTACTLASTNAME="New", PHONE="", **second),
        row(ORDERNUMBER="10102", CUSTOMERNAME=name, CONTACTLASTNAME="  ", PHONE="555-0199", **first),
        row(ORDERNUMBER="10103", CUSTOMERNAME=name, CONTACTLASTNAME="", PHONE=" ", **second),
    ]
    with psycopg.connect(url) as c:
        load_reference_data(c)
        counts = ingest(c, write_csv(tmp_path / "split.csv", rows))
        assert counts.loaded == 4, counts.summary()
        refresh_core(c)
        addresses = c.execute(
            "SELECT a.sub_addr, a.city, a.region, a.source_key, count(*) OVER ()"
            " FROM addresses a JOIN customers c USING (customer_id) WHERE c.company_name = %s",
            (name,),
        ).fetchall()
        contact = c.execute(
            "SELECT contact_last_name, phone FROM customers WHERE company_name = %s", (name,)
        ).fetchone()
        ship = c.execute(
            "SELECT count(DISTINCT ship_addr_id), count(*) FROM orders WHERE ship_addr_id IS NOT NULL"
        ).fetchone()
    assert [a[:3] for a in addresses] == [expected] and addresses[0][4] == 1
    assert addresses[0][3] == "1 Main|Paris|IDF|S-958 22|SWEDEN"
    assert contact == ("New", "555-0199")  # the latest line where each is not blank
    assert ship == (1, 4)  # every order ships to that one address


def test_the_nonblank_macro_is_btrim_not_empty(conn):
    """refresh.nonblank(x) decides by x's first character where it can: the same verdict as
    btrim(x) <> '' on every text (NULL: not blank neither, a FILTER drops both)."""
    from vehicle_sales.common.sql import environment

    expr = (
        environment()
        .from_string("{% import 'ingest/refresh/_macros.sql' as refresh %}{{ refresh.nonblank('t') }}")
        .render()
    )
    fixed = ["", " ", "   ", "a", " a", "a ", "\ta", "\t", "\u00a0", " \u00a0", "é", "\x7f", "!", "~ "]
    texts = fixed + [None]
    got = conn.execute(
        f"SELECT t, {expr}, btrim(t) <> '' FROM unnest(%s::text[]) AS u(t)", (texts,)
    ).fetchall()
    assert [(t, want) for t, _, want in got] == [(t, mine) for t, mine, _ in got]


def test_refresh_reports_its_counts_in_the_task_log_and_the_event(db_url, tmp_path):
    """The table refresh_core returns (shown in the task log) and the event it records: each entity's
    inserted and updated rows, the delta's size and the watermark before and after; a second file
    changing an order and adding a customer is counted as such, and a refresh with nothing new
    counts nothing."""
    prepared_db(db_url, tmp_path)

    def run() -> tuple[list[tuple], dict]:
        with psycopg.connect(db_url) as c:
            table = refresh_core(c)
            event = c.execute(
                "SELECT details FROM pipeline_events WHERE step = 'refresh_core' ORDER BY event_id DESC LIMIT 1"
            ).fetchone()[0]
        return table, event

    table, event = run()
    steps = ["customers", "addresses", "unknown_country", "products", "orders", "order_lines"]
    assert [r[:3] for r in table] == list(zip(steps, [7, 26, 6, 9, 14, 40], [0, 0, 0, 0, 0, 0], strict=True))
    assert {r[3:] for r in table} == {(40, 0, 40)}  # delta rows, watermark before, after
    assert event["delta_rows"] == 40 and (event["watermark_before"], event["watermark_after"]) == (0, 40)
    assert event["counts"] == {s: {"inserted": i, "updated": 0} for s, i, _ in (r[:3] for r in table)}

    later = [
        row(ORDERNUMBER="10100", ORDERLINENUMBER="4", CUSTOMERNAME="Customer 0", STATUS="Cancelled"),
        row(ORDERNUMBER="20000", ORDERLINENUMBER="1", CUSTOMERNAME="Customer New", COUNTRY="Norway"),
    ]
    with psycopg.connect(db_url) as c:
        ingest(c, write_csv(tmp_path / "later.csv", later))
    table, event = run()
    assert [r[:3] for r in table] == [
        ("customers", 1, 0),
        ("addresses", 2, 0),
        ("unknown_country", 0, 0),
        ("products", 1, 0),
        ("orders", 1, 1),
        ("order_lines", 2, 0),
    ]
    assert {r[3:] for r in table} == {(2, 40, 42)}
    assert event["counts"]["orders"] == {"inserted": 1, "updated": 1}

    table, event = run()
    assert [r[:3] for r in table] == [(s, 0, 0) for s in steps]
    assert {r[3:] for r in table} == {(0, 42, 42)} and event["delta_rows"] == 0


WORK_TABLES = ("refresh_window", "pick_grain", "pick_product", "pick_order")


def _work_rows(url) -> list[int]:
    with psycopg.connect(url) as c:
        return [c.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in WORK_TABLES]


@pytest.mark.parametrize("ghosts", [3, 20_000], ids=["deleted", "truncated"])
def test_the_work_tables_are_empty_between_refreshes_and_what_is_left_in_them_changes_nothing(
    fresh_db_factory, tmp_path, ghosts
):
    """refresh_core's work tables (V009) hold one refresh's window and picks: they are empty once it
    has committed, and a refresh empties them before it starts, whatever was left there (a few rows
    are deleted; past a megabyte, as 20,000 picks are, the tables are truncated): what they held
    never reaches the core tables."""
    clean, littered = fresh_db_factory(), fresh_db_factory()
    for url in (clean, littered):
        prepared_db(url, tmp_path)
    refresh(clean)
    with psycopg.connect(littered) as c:
        c.execute("INSERT INTO refresh_window (after, delta_bound, large) VALUES (999, 0, false)")
        c.execute(
            "INSERT INTO pick_grain (customername, customer, first_raw_id, raw_id)"
            " SELECT 'Ghost ' || g, 'Ghost ' || g, g, g FROM generate_series(1, %s) g",
            (ghosts,),
        )
        c.execute("INSERT INTO pick_product (raw_id) VALUES (1)")
        c.execute("INSERT INTO pick_order (ordernumber, raw_id, n_lines) VALUES (1, 1, 1)")
        size = c.execute("SELECT pg_relation_size('pick_grain')").fetchone()[0]
        assert (size > 1 << 20) == (ghosts > 3)
    assert _work_rows(littered) == [1, ghosts, 1, 1]
    refresh(littered)
    assert state(littered) == state(clean)
    assert _work_rows(clean) == _work_rows(littered) == [0, 0, 0, 0]
    with psycopg.connect(littered) as c:  # (truncated: a new file, the ghosts' dead rows gone with the old)
        assert c.execute("SELECT pg_relation_size('pick_grain')").fetchone()[0] < 1 << 20

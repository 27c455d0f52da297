"""RFM in SQL on a hand-computed order set: as-of cut-offs, status filter, recency references."""

from __future__ import annotations

from datetime import date

import pytest

from vehicle_sales.segments.rfm import RfmSettings, compute_snapshot, load_snapshot, start_run

# order_no, customer, date, status, line amounts
ORDERS = [
    (1, "A", date(2004, 1, 10), "Shipped", [100, 50]),
    (2, "A", date(2004, 3, 1), "Resolved", [200]),
    (3, "A", date(2004, 7, 1), "Shipped", [300]),  # after the as-of date below
    (4, "A", date(2004, 5, 1), "Cancelled", [999]),  # does not qualify
    (5, "B", date(2004, 2, 15), "Shipped", [80]),  # B: a single order
    (6, "C", date(2004, 6, 30), "On Hold", [500]),  # C: nothing qualifying by default
]


@pytest.fixture
def orders_db(conn):
    ids = {}
    for name in ("A", "B", "C"):
        ids[name] = conn.execute(
            "INSERT INTO customers (company_name) VALUES (%s) RETURNING customer_id", (name,)
        ).fetchone()[0]
    conn.execute("INSERT INTO products (product_code) VALUES ('S10_0001')")
    for order_no, name, day, status, amounts in ORDERS:
        conn.execute(
            "INSERT INTO orders (order_no, customer_id, order_date, status, deal_size)"
            " VALUES (%s, %s, %s, %s, 'Small')",
            (order_no, ids[name], day, status),
        )
        for line, amount in enumerate(amounts, 1):
            conn.execute(
                "INSERT INTO order_lines VALUES (%s, %s, 'S10_0001', 1, %s, %s)",
                (order_no, line, amount, amount),
            )
    conn.commit()
    return conn, ids


def rfm(conn, ids, settings, run="r"):
    run_id = start_run(conn, settings, "vehicle_sales_rfm", run)
    n = compute_snapshot(conn, run_id, settings)
    df = load_snapshot(conn, run_id)
    by_name = {v: k for k, v in ids.items()}
    out = {by_name[r.customer_id]: (r.recency_days, r.frequency, r.monetary) for r in df.itertuples()}
    assert n == len(out)
    return out


def test_as_of_cut_off_status_filter_and_last_order_reference(orders_db):
    conn, ids = orders_db
    got = rfm(conn, ids, RfmSettings(as_of=date(2004, 6, 30)))
    # latest qualifying order in the window: 2004-03-01 (order 2)
    assert got == {"A": (0, 2, 350.0), "B": (15, 1, 80.0)}


def test_later_orders_never_leak_into_an_earlier_snapshot(orders_db):
    conn, ids = orders_db
    assert rfm(conn, ids, RfmSettings(as_of=date(2004, 7, 1)), "r2")["A"] == (0, 3, 650.0)
    assert rfm(conn, ids, RfmSettings(as_of=date(2004, 2, 1)), "r3") == {"A": (0, 1, 150.0)}


def test_as_of_recency_reference_counts_days_to_the_as_of_date(orders_db):
    conn, ids = orders_db
    got = rfm(conn, ids, RfmSettings(as_of=date(2004, 6, 30), recency_reference="as_of"))
    assert got["A"][0] == (date(2004, 6, 30) - date(2004, 3, 1)).days == 121
    assert got["B"][0] == (date(2004, 6, 30) - date(2004, 2, 15)).days


def test_statuses_are_configurable(orders_db):
    conn, ids = orders_db
    got = rfm(conn, ids, RfmSettings(as_of=date(2004, 6, 30), statuses=("Shipped", "Resolved", "On Hold")))
    assert got["C"] == (0, 1, 500.0)  # C's order is now the latest qualifying one
    assert got["A"][0] == (date(2004, 6, 30) - date(2004, 3, 1)).days


def test_lookback_window_and_empty_result(orders_db):
    conn, ids = orders_db
    assert rfm(conn, ids, RfmSettings(as_of=date(2004, 6, 30), lookback_days=130)) == {"A": (0, 1, 200.0)}
    assert rfm(conn, ids, RfmSettings(as_of=date(2004, 6, 30), lookback_days=100), "r4") == {}


def test_rerunning_the_same_airflow_run_reuses_its_rfm_run(orders_db):
    conn, ids = orders_db
    s = RfmSettings(as_of=date(2004, 6, 30))
    first = start_run(conn, s, "vehicle_sales_rfm", "same")
    second = start_run(conn, s, "vehicle_sales_rfm", "same")
    assert first == second
    assert conn.execute("SELECT count(*) FROM rfm_run").fetchone()[0] == 1


def test_a_customer_whose_lines_sum_past_any_line_bound_is_computed_and_published(conn):
    """Each line within order_lines.sales (numeric(12,2)) as staging guarantees, but their sum beyond
    what numeric(14,2) holds: compute_rfm and publishing keep the exact sum instead of failing on
    every later run."""
    from support import loaded_run

    cid = conn.execute(
        "INSERT INTO customers (company_name) VALUES ('Whale') RETURNING customer_id"
    ).fetchone()[0]
    conn.execute("INSERT INTO products (product_code) VALUES ('S10_0001')")
    for order_no in range(1, 151):
        conn.execute(
            "INSERT INTO orders (order_no, customer_id, order_date, status, deal_size)"
            " VALUES (%s, %s, '2004-01-10', 'Shipped', 'Large')",
            (order_no, cid),
        )
        conn.execute(
            "INSERT INTO order_lines VALUES (%s, 1, 'S10_0001', 1, 99999999.99, 9999999999.99)", (order_no,)
        )
    conn.commit()
    out = rfm(conn, {"Whale": cid}, RfmSettings(as_of=date(2004, 6, 30)))
    total = conn.execute("SELECT monetary_amt::text FROM rfm_snapshot").fetchone()[0]
    assert total == "1499999999998.50" and out["Whale"][1] == 150
    run_id = loaded_run(conn, {"Whale": cid}, "2004-07-31", {"Whale": ("Champion", 150 * 9999999999.99)})
    assert conn.execute(
        "SELECT revenue > 1e12 FROM rfm_run_segment_summary WHERE run_id = %s", (run_id,)
    ).fetchone() == (True,)
    assert conn.execute("SELECT monetary_amt > 1e12 FROM customer_segments").fetchone() == (True,)

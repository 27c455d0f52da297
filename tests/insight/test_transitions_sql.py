"""The insight views and functions (sql/schema/views.sql) on hand-built runs published through the
real publish path (segments/publish.py, load_segments.sql): previous comparable snapshot, new / gone /
up / down / stayed, revenue, the trend, the matrix and the queries of the page."""

from __future__ import annotations

from datetime import date

import pytest

from support import loaded_run
from vehicle_sales.insight import queries
from vehicle_sales.segments.publish import publish


@pytest.fixture
def customers(conn):
    ids = {}
    for name in ("A", "B", "C", "D", "E"):
        ids[name] = conn.execute(
            "INSERT INTO customers (company_name) VALUES (%s) RETURNING customer_id", (f"{name} Corp",)
        ).fetchone()[0]
    conn.commit()
    return ids


def test_each_run_is_compared_with_the_latest_earlier_comparable_snapshot(conn, customers):
    jan = loaded_run(conn, customers, "2004-01-31", {"A": ("Champion", 100)})
    mar = loaded_run(conn, customers, "2004-03-31", {"A": ("Champion", 300)})
    feb = loaded_run(conn, customers, "2004-02-29", {"A": ("Champion", 200)})  # backfilled late
    other_k = loaded_run(conn, customers, "2004-02-15", {"A": ("Champion", 150)}, k=4)
    previous = dict(conn.execute("SELECT run_id, previous_run_id FROM rfm_run_previous").fetchall())
    assert previous == {jan: None, feb: jan, mar: feb, other_k: None}  # k = 4 is another chain


def test_transitions_count_new_gone_up_down_and_stayed_with_revenue(conn, customers):
    first = loaded_run(
        conn,
        customers,
        "2004-01-31",
        {
            "A": ("Champion", 100),
            "B": ("Potential Loyalist", 50),
            "C": ("Hibernating", 5),
            "D": ("Champion", 80),
        },
    )
    second = loaded_run(
        conn,
        customers,
        "2004-02-29",
        {
            "A": ("Potential Loyalist", 120),
            "B": ("Champion", 70),
            "C": ("Hibernating", 5),
            "E": ("Hibernating", 9),
        },
    )
    rows = conn.execute(
        "SELECT from_segment, to_segment, movement, customers, revenue::float8 FROM customer_segment_transitions"
        " WHERE run_id = %s ORDER BY 1, 2",
        (second,),
    ).fetchall()
    assert rows == [
        ("(new)", "Hibernating", "new", 1, 9.0),
        ("Champion", "(gone)", "gone", 1, 80.0),  # D: no qualifying order any more; its last value
        ("Champion", "Potential Loyalist", "down", 1, 120.0),
        ("Hibernating", "Hibernating", "stayed", 1, 5.0),
        ("Potential Loyalist", "Champion", "up", 1, 70.0),
    ]
    # the first run of a chain: everybody is new
    assert conn.execute(
        "SELECT sum(customers), bool_and(movement = 'new') FROM customer_segment_transitions WHERE run_id = %s",
        (first,),
    ).fetchone() == (4, True)
    # the per-customer form says who
    detail = conn.execute(
        "SELECT c.company_name, t.movement FROM customer_segment_transition_detail t JOIN customers c"
        " USING (customer_id) WHERE t.run_id = %s ORDER BY 1",
        (second,),
    ).fetchall()
    assert detail == [
        ("A Corp", "down"),
        ("B Corp", "up"),
        ("C Corp", "stayed"),
        ("D Corp", "gone"),
        ("E Corp", "new"),
    ]

    matrix = queries.transition_matrix(queries.transitions(conn, first, second))
    assert matrix.rows == ["Champion", "Potential Loyalist", "Hibernating", "(new)"]
    assert matrix.columns == ["Champion", "Potential Loyalist", "Hibernating", "(gone)"]
    assert (
        matrix.customers("Champion", "(gone)") == 1
        and matrix.revenue("Champion", "Potential Loyalist") == 120
    )
    assert matrix.total == 5  # 4 in the first run + E
    assert [m["company_name"] for m in queries.movers(conn, first, second, "down")] == ["A Corp"]
    assert [m["company_name"] for m in queries.movers(conn, first, second, "up")] == ["B Corp"]


def test_trend_has_each_runs_segment_shares_and_they_sum_to_one(conn, customers):
    loaded_run(conn, customers, "2004-01-31", {"A": ("Champion", 300), "B": ("Hibernating", 100)})
    last = loaded_run(
        conn,
        customers,
        "2004-02-29",
        {"A": ("Champion", 300), "B": ("Champion", 100), "C": ("Hibernating", 100)},
    )
    trend = queries.trend(conn, last)
    assert [(str(t["as_of_date"]), t["segment"], t["customers"]) for t in trend] == [
        ("2004-01-31", "Champion", 1),
        ("2004-01-31", "Hibernating", 1),
        ("2004-02-29", "Champion", 2),
        ("2004-02-29", "Hibernating", 1),
    ]
    feb = [t for t in trend if t["as_of_date"] == date(2004, 2, 29)]
    assert sum(t["customer_share"] for t in feb) == pytest.approx(1.0)
    assert [round(t["revenue_share"], 3) for t in feb] == [0.8, 0.2]


def test_republishing_a_run_replaces_its_summary(conn, customers):
    run = loaded_run(conn, customers, "2004-01-31", {"A": ("Champion", 300), "B": ("Hibernating", 100)})
    publish(conn, run)
    assert conn.execute("SELECT count(*), sum(customers) FROM rfm_run_segment_summary").fetchone() == (2, 2)


def test_customer_search_escapes_like_wildcards_and_finds_by_id(conn, customers):
    conn.execute("INSERT INTO customers (company_name) VALUES ('100% Toys'), ('100 Toys')")
    conn.commit()
    assert [c["company_name"] for c in queries.search_customers(conn, "100%")] == ["100% Toys"]
    assert [c["company_name"] for c in queries.search_customers(conn, "_ Corp")] == []
    assert [c["company_name"] for c in queries.search_customers(conn, str(customers["C"]))] == ["C Corp"]
    assert queries.search_customers(conn, "   ") == []

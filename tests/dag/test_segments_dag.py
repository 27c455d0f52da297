"""The whole DAG on the bundled sample: segments published, versioned, point in time."""

from __future__ import annotations

import psycopg
import pytest

from support import TRANSITIONS_BY_HAND, matrix_cells, run_dag
from vehicle_sales.common.paths import SAMPLE_CSV

pytestmark = pytest.mark.skipif(not SAMPLE_CSV.exists(), reason="the bundled sample is missing")


def q(url, sql, *args):
    with psycopg.connect(url) as c:
        return c.execute(sql, args).fetchall()


def test_sample_run_publishes_one_current_segment_per_customer_with_metrics(warehouse, tmp_path):
    dr, states = run_dag("2005-06-01")
    assert dr.state == "success", states
    assert all(s in ("success", "skipped") for s in states.values()), states
    run = q(
        warehouse,
        "SELECT run_id, n_clusters, silhouette, calinski_harabasz, davies_bouldin, loss, algorithm,"
        " airflow_dag_id, airflow_run_id, as_of_date FROM rfm_run WHERE status = 'loaded'",
    )
    assert len(run) == 1
    run_id, k, sil, ch, dbi, loss, algorithm, dag_id, airflow_run, as_of = run[0]
    assert k == 3 and None not in (sil, ch, dbi, loss) and "pam" in algorithm
    assert (dag_id, airflow_run, str(as_of)) == ("vehicle_sales_rfm", dr.run_id, "2005-06-01")
    qualifying = q(
        warehouse,
        "SELECT count(DISTINCT customer_id) FROM orders WHERE status IN ('Shipped', 'Resolved')"
        " AND order_date <= '2005-06-01'",
    )[0][0]
    per_customer = q(warehouse, "SELECT customer_id, count(*) FROM customer_segments GROUP BY 1")
    assert len(per_customer) == qualifying and all(n == 1 for _, n in per_customer)
    labels = q(
        warehouse,
        "SELECT d.label, count(*) FROM customer_segments s JOIN rfm_segment_def d USING (segment_id)"
        " GROUP BY d.label, d.value_rank ORDER BY d.value_rank",
    )
    assert [label for label, _ in labels] == ["Champion", "Potential Loyalist", "Hibernating"]
    sizes = dict(labels)
    assert sizes["Champion"] < sizes["Potential Loyalist"]  # a handful of champions
    # the bundled sample's exact outcome (the demo's), which no redesign or speed-up may change
    assert q(
        warehouse,
        "SELECT sum(rows_read), sum(rows_loaded), sum(rows_duplicate), sum(rows_rejected) FROM source_files",
    ) == [(3000, 3000, 0, 0)]
    assert q(
        warehouse,
        "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM addresses),"
        " (SELECT count(*) FROM products), (SELECT count(*) FROM orders),"
        " (SELECT count(*) FROM order_lines)",
    ) == [(92, 92, 110, 301, 3000)]
    assert q(
        warehouse,
        "SELECT count(*) FILTER (WHERE phone_valid), count(*) FILTER (WHERE NOT phone_valid) FROM customers",
    ) == [(70, 22)]
    assert [round(sil, 3), round(ch, 1), round(dbi, 3), round(loss, 3)] == [0.408, 92.7, 0.834, 54.611]
    assert labels == [("Champion", 10), ("Potential Loyalist", 43), ("Hibernating", 35)]
    folder = next((tmp_path / "reports").iterdir())
    assert {p.name for p in folder.iterdir()} >= {
        "report.md",
        "report.html",
        "segment_sizes.png",
        "rfm_distributions.png",
    }
    assert "Champion" in (folder / "report.md").read_text()


def test_three_dates_give_three_point_in_time_snapshots(warehouse):
    dates = ["2003-12-31", "2004-06-30", "2004-12-31"]
    for day in dates:
        dr, states = run_dag(day)
        assert dr.state == "success", (day, states)
    runs = q(
        warehouse,
        "SELECT r.as_of_date::text, r.n_customers, sum(h.monetary_amt), sum(h.frequency),"
        " max(h.recency_days), count(h.*) FROM rfm_run r JOIN customer_segment_history h USING (run_id)"
        " WHERE r.status = 'loaded' GROUP BY r.run_id ORDER BY r.as_of_date",
    )
    assert [r[0] for r in runs] == dates
    for earlier, later in zip(runs, runs[1:], strict=False):
        assert later[2] > earlier[2] and later[3] > earlier[3]  # more spend and orders as time passes
        assert later[1] >= earlier[1]
    # every snapshot counts only orders dated on or before its as-of date
    for as_of, _, monetary, *_ in runs:
        expected = q(
            warehouse,
            "SELECT sum(ol.sales) FROM orders o JOIN order_lines ol USING (order_no)"
            " WHERE o.status IN ('Shipped', 'Resolved') AND o.order_date <= %s",
            as_of,
        )[0][0]
        assert monetary == expected
    # current segments follow the latest as-of date, whatever the order the runs finished in
    current = q(
        warehouse, "SELECT DISTINCT r.as_of_date::text FROM customer_segments s JOIN rfm_run r USING (run_id)"
    )
    assert current == [("2004-12-31",)]


def test_month_end_backfill_shows_transitions_that_match_the_warehouse(warehouse, api_server):
    """Three month-end snapshots: the transitions (views), the stored report and the UI page all
    give the numbers an independent SQL computation gives; adjacent snapshots name alike segments."""
    client, auth = api_server
    dates = ["2004-10-31", "2004-11-30", "2004-12-31"]
    for day in dates:
        dr, states = run_dag(day)
        assert dr.state == "success", (day, states)
    runs = q(
        warehouse, "SELECT run_id, as_of_date::text FROM rfm_run WHERE status = 'loaded' ORDER BY as_of_date"
    )
    assert [d for _, d in runs] == dates
    ids = [r for r, _ in runs]
    pairs = list(zip(ids, ids[1:], strict=False))
    assert q(warehouse, "SELECT run_id, previous_run_id FROM rfm_run_previous ORDER BY as_of_date") == [
        (ids[0], None),
        (ids[1], ids[0]),
        (ids[2], ids[1]),
    ]
    moved = 0
    for earlier, later in pairs:
        by_hand = {(f, t): n for f, t, n in q(warehouse, TRANSITIONS_BY_HAND, earlier, later)}
        view = {
            (f, t): n
            for f, t, n in q(
                warehouse,
                "SELECT from_segment, to_segment, customers FROM customer_segment_transitions WHERE run_id = %s",
                later,
            )
        }
        assert view == by_hand
        moved += sum(n for (f, t), n in by_hand.items() if f != t)

        # the page, between the chosen pair: the same numbers in the matrix cells
        page = client.get("/rfm/", params={"from_run": earlier, "to_run": later}, headers=auth)
        assert page.status_code == 200
        shown = {k: v for k, v in matrix_cells(page.text).items() if v}
        assert shown == by_hand

        # the stored report of the later run: its matrix, in Markdown, has the same counts
        md = q(
            warehouse,
            "SELECT convert_from(content, 'UTF8') FROM rfm_report_file WHERE run_id = %s AND name = 'report.md'",
            later,
        )
        assert md, "report.md is stored with its run"
        for (f, t), n in by_hand.items():
            assert report_cell(md[0][0], f, t) == n, (f, t)

        # segment names mean the same from one month to the next: each segment of the later run
        # shares most of its customers with the earlier run's segment of the same name
        overlap = q(
            warehouse,
            "SELECT dt.label, df.label, count(*) FROM customer_segment_history t"
            " JOIN customer_segment_history f ON f.customer_id = t.customer_id AND f.run_id = %s"
            " JOIN rfm_segment_def dt ON dt.segment_id = t.segment_id"
            " JOIN rfm_segment_def df ON df.segment_id = f.segment_id WHERE t.run_id = %s GROUP BY 1, 2",
            earlier,
            later,
        )
        best = {}
        for to_label, from_label, n in overlap:
            if n > best.get(to_label, ("", 0))[1]:
                best[to_label] = (from_label, n)
        assert {to: frm for to, (frm, _) in best.items()} == {label: label for label in best}
    assert moved > 0  # customers do move between month ends on the sample
    files = q(warehouse, "SELECT run_id, name FROM rfm_report_file ORDER BY 1, 2")
    assert {name for _, name in files} == {
        "report.html",
        "report.md",
        "segment_sizes.png",
        "rfm_distributions.png",
        "transition_matrix.png",
        "trend.png",
    }
    assert {r for r, _ in files} == set(ids)
    html = client.get(f"/rfm/reports/{ids[-1]}/report.html", headers=auth)
    assert (
        html.status_code == 200
        and "Transitions" in html.text
        and "default-src 'none'" in html.headers["content-security-policy"]
    )
    png = client.get(f"/rfm/reports/{ids[-1]}/trend.png", headers=auth)
    assert png.headers["content-type"] == "image/png" and png.content[:4] == b"\x89PNG"


def report_cell(markdown: str, frm: str, to: str) -> int:
    """The count of (from, to) in the report's Markdown matrix ('n (revenue)' or '0')."""
    lines = [line for line in markdown.splitlines() if line.startswith("| ")]
    header = next(line for line in lines if line.startswith("| from"))
    columns = [c.strip() for c in header.strip("|").split("|")][1:]
    row = next(line for line in lines if line.strip("|").split("|")[0].strip() == frm)
    value = [c.strip() for c in row.strip("|").split("|")][1:][columns.index(to)]
    return int(value.split()[0])

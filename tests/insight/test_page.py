"""The RFM page: pure rendering (escaping of user data, charts) and the page served by the real
Airflow API server app (``airflow.api_fastapi.app.create_app``, with this repository's plugins
folder), in process: the plugin is registered, anonymous and forged requests are refused by the
API server's own authentication, an authenticated user sees the warehouse's numbers."""

from __future__ import annotations

from support import loaded_run, matrix_cells
from vehicle_sales.insight import charts, queries
from vehicle_sales.insight.app import render

HOSTILE = "<script>alert('x')</script> & Sons"


def test_pages_escape_customer_names_and_search_text():
    page = render(
        "customers.html",
        root="/rfm",
        q=HOSTILE,
        customers=[{"customer_id": 7, "company_name": HOSTILE, "contact": "<b>x</b>", "segment": None}],
    )
    assert "<script>" not in page and "<b>x</b>" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; Sons" in page
    assert 'href="/rfm/customers/7"' in page


def test_charts_escape_their_labels_and_scale_fractions():
    svg = charts.bars_svg([HOSTILE, "b"], {"customers": [0.5, 0.25]}, "t<itle>")
    assert "<script>" not in svg and "t&lt;itle&gt;" in svg
    lines = charts.lines_svg(["2004-01-31", "2004-02-29"], {HOSTILE: [0.5, None]}, "trend")
    assert "<script>" not in lines and lines.count("<circle") == 1  # None leaves a gap


def test_an_empty_warehouse_gets_a_hint_not_an_error():
    page = render("overview.html", root="/rfm", runs=[], run=None)
    assert "No loaded run yet" in page


def test_transition_matrix_orders_segments_by_value_with_new_and_gone_last():
    rows = [
        {
            "from_segment": "(new)",
            "to_segment": "B",
            "from_value_rank": None,
            "to_value_rank": 2,
            "customers": 2,
            "revenue": 5,
        },
        {
            "from_segment": "A",
            "to_segment": "(gone)",
            "from_value_rank": 1,
            "to_value_rank": None,
            "customers": 1,
            "revenue": 3,
        },
        {
            "from_segment": "B",
            "to_segment": "A",
            "from_value_rank": 2,
            "to_value_rank": 1,
            "customers": 4,
            "revenue": 7.5,
        },
    ]
    m = queries.transition_matrix(rows)
    assert m.rows == ["A", "B", "(new)"] and m.columns == ["A", "B", "(gone)"]
    assert (m.customers("B", "A"), m.revenue("B", "A"), m.customers("A", "A"), m.total) == (4, 7.5, 0, 7)


# ----------------------------------------------------------------------------- the API server


def test_the_page_is_registered_and_refuses_anonymous_and_forged_requests(api_server, conn):
    client, auth = api_server
    plugins = client.get("/api/v2/plugins", headers=auth).json()["plugins"]
    ours = next(p for p in plugins if p["name"] == "rfm_insight")
    assert {a["url_prefix"] for a in ours["fastapi_apps"]} == {"/rfm"}
    assert {(v["destination"], v["url_route"]) for v in ours["external_views"]} == {
        ("nav", "rfm-segments"),
        ("dag", "rfm-segments-dag"),
    }
    for path in ("/rfm/", "/rfm/customers?q=a", "/rfm/api/runs", "/rfm/reports/1/report.html"):
        assert client.get(path).status_code == 401, path
        assert client.get(path, headers={"Authorization": "Bearer forged.token.here"}).status_code == 403, (
            path
        )
        assert client.get(path, cookies={"_token": "forged"}).status_code == 403, path


def test_an_authenticated_user_sees_the_warehouse_transitions_escaped(api_server, conn):
    client, auth = api_server
    ids = {}
    for name in ("A", "B", HOSTILE):
        ids[name] = conn.execute(
            "INSERT INTO customers (company_name) VALUES (%s) RETURNING customer_id", (name,)
        ).fetchone()[0]
    conn.commit()
    first = loaded_run(conn, ids, "2004-01-31", {"A": ("Champion", 10), HOSTILE: ("Champion", 99)})
    second = loaded_run(
        conn,
        ids,
        "2004-02-29",
        {"A": ("Champion", 10), HOSTILE: ("Hibernating", 120), "B": ("Hibernating", 1)},
    )

    page = client.get("/rfm/", headers=auth)
    assert page.status_code == 200
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;alert" in page.text  # a mover: moved down, by name
    expected = {
        (f, t): n
        for f, t, n in conn.execute(
            "SELECT from_segment, to_segment, customers FROM customer_segment_transitions WHERE run_id = %s",
            (second,),
        ).fetchall()
    }
    shown = {k: v for k, v in matrix_cells(page.text).items() if v}
    assert (
        shown
        == expected
        == {("Champion", "Champion"): 1, ("Champion", "Hibernating"): 1, ("(new)", "Hibernating"): 1}
    )
    # any two runs: the first against itself -- everybody stayed
    same = client.get("/rfm/", params={"from_run": first, "to_run": first}, headers=auth).text
    assert {k: v for k, v in matrix_cells(same).items() if v} == {("Champion", "Champion"): 2}
    assert client.get("/rfm/", params={"to_run": 999999}, headers=auth).status_code == 404

    history = client.get(f"/rfm/customers/{ids[HOSTILE]}", headers=auth).text
    assert history.count('<tr><td class="l">2004-') == 2 and "<script>alert" not in history
    found = client.get("/rfm/customers", params={"q": "scRIPT"}, headers=auth).text
    assert f'/rfm/customers/{ids[HOSTILE]}"' in found

#!/usr/bin/env python3
"""Benchmark: the RFM page of the Airflow UI on a warehouse with 100 loaded runs of 10,000 customers
each (1M rows of segment history), on a scratch database.

The runs go through the real publish path (``segments.publish.publish``: load_segments.sql, which
also writes the per-run segment summary the trend reads); customers drift between three segments
from one month-end to the next, a few join and leave. Then each page of the app
(``vehicle_sales.insight.app``, in process, authentication left out: it is the API server's and
costs the same on every page) is requested ``--repeats`` times; the median is reported.

Target: every page in under 0.5 s (median) on the 2-core reference machine.

    python bench/bench_insight.py [--runs 100] [--customers 10000] [--repeats 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT / "include"), str(ROOT), str(HERE)]

TARGET_SECONDS = 0.5

POPULATE = """
INSERT INTO customers (company_name, contact_first_name, contact_last_name)
SELECT format('Customer %%s Ltd', i), 'Ann', format('Buyer%%s', i) FROM generate_series(1, %(customers)s) i;

INSERT INTO rfm_run (as_of_date, end_date, order_statuses, recency_reference, airflow_dag_id,
                     airflow_run_id, status)
SELECT d, d, '{Shipped,Resolved}', 'as_of', 'vehicle_sales_rfm', 'bench__' || d, 'computed'
FROM (SELECT (date '2003-01-31' + make_interval(months => m))::date AS d
      FROM generate_series(0, %(runs)s - 1) m) x;

-- a customer's segment wanders: segment = (customer + floor(month / 7 + customer / 13)) %% 3;
-- every 50th customer is absent from a given month (new / gone)
INSERT INTO rfm_snapshot (run_id, customer_id, recency_days, frequency, monetary_amt)
SELECT r.run_id, c.customer_id, (c.customer_id * 7 + r.run_id) %% 700, 1 + (c.customer_id + r.run_id) %% 20,
       round((100 + (c.customer_id * 37 + r.run_id * 11) %% 90000)::numeric, 2)
FROM rfm_run r CROSS JOIN customers c
WHERE (c.customer_id + r.run_id) %% 50 <> 0;

INSERT INTO rfm_fit_assignment (run_id, customer_id, segment_label, is_medoid)
SELECT s.run_id, s.customer_id,
       (ARRAY['Champion', 'Potential Loyalist', 'Hibernating'])[1 + (s.customer_id + s.run_id / 7 + s.customer_id / 13) %% 3],
       false
FROM rfm_snapshot s;

INSERT INTO rfm_fit (run_id, result)
SELECT run_id, jsonb_build_object(
    'n_clusters', 3, 'algorithm', 'pam-fasterpam/k-medoids++',
    'params', jsonb_build_object('metric', 'euclidean', 'random_state', 0),
    'segments', jsonb_build_array(
        jsonb_build_object('label', 'Champion', 'value_rank', 1),
        jsonb_build_object('label', 'Potential Loyalist', 'value_rank', 2),
        jsonb_build_object('label', 'Hibernating', 'value_rank', 3)))
FROM rfm_run;
"""


def build(url: str, runs: int, customers: int) -> dict:
    import psycopg

    from vehicle_sales.common.schema import apply_schema
    from vehicle_sales.segments.publish import publish

    with psycopg.connect(url) as conn:
        apply_schema(conn)
        t0 = time.perf_counter()
        conn.execute(
            POPULATE.replace("%(customers)s", str(customers))
            .replace("%(runs)s", str(runs))
            .replace("%%", "%")
        )
        conn.commit()
        t1 = time.perf_counter()
        run_ids = [r for (r,) in conn.execute("SELECT run_id FROM rfm_run ORDER BY as_of_date")]
        for run_id in run_ids:
            publish(conn, run_id)
        t2 = time.perf_counter()
        history = conn.execute("SELECT count(*) FROM customer_segment_history").fetchone()[0]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return {
        "runs": len(run_ids),
        "history_rows": history,
        "populate_s": round(t1 - t0, 2),
        "publish_s": round(t2 - t1, 2),
        "publish_per_run_s": round((t2 - t1) / max(1, len(run_ids)), 3),
        "first_run": run_ids[0],
        "last_run": run_ids[-1],
        "a_customer": max(1, min(4242, customers // 2)),  # customer ids are 1..customers
    }


def measure(url: str, facts: dict, repeats: int) -> list[dict]:
    import os

    os.environ["AIRFLOW_CONN_SALES_DB"] = url
    from fastapi.testclient import TestClient

    from vehicle_sales.insight.app import create_app

    client = TestClient(create_app(dependencies=[]), root_path="/rfm")
    pages = [
        ("overview (latest run vs its previous)", "/", {}),
        (
            "transitions, first vs last run",
            "/",
            {"from_run": facts["first_run"], "to_run": facts["last_run"]},
        ),
        ("customer search", "/customers", {"q": "Customer 42"}),
        (f"customer history ({facts['runs']} runs)", f"/customers/{facts['a_customer']}", {}),
        (
            "api/transitions JSON",
            "/api/transitions",
            {"from_run": facts["first_run"], "to_run": facts["last_run"]},
        ),
    ]
    client.get("/")  # warm: template compilation, imports
    rows = []
    for name, path, params in pages:
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            r = client.get(path, params=params)
            times.append(time.perf_counter() - t0)
            assert r.status_code == 200, (path, r.status_code, r.text[:300])
        rows.append(
            {
                "page": name,
                "path": path,
                "median_s": round(statistics.median(times), 4),
                "max_s": round(max(times), 4),
                "bytes": len(r.content),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--customers", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)

    from bench_ingest import ScratchDB

    with ScratchDB() as url:
        facts = build(url, args.runs, args.customers)
        print(
            f"{facts['runs']} runs, {facts['history_rows']:,} history rows; publish (load_segments.sql) "
            f"{facts['publish_per_run_s']:.3f} s per run of {args.customers:,} customers",
            flush=True,
        )
        rows = measure(url, facts, args.repeats)
    print(f"{'page':<40} {'median s':>9} {'max s':>7} {'KB':>6}")
    missed = []
    for r in rows:
        print(f"{r['page']:<40} {r['median_s']:>9.3f} {r['max_s']:>7.3f} {r['bytes'] / 1024:>6.0f}")
        if r["median_s"] > TARGET_SECONDS:
            missed.append(f"{r['page']}: {r['median_s']} s > {TARGET_SECONDS} s")
    for m in missed:
        print(f"TARGET MISSED: {m}")
    if not missed:
        print(f"target met: every page under {TARGET_SECONDS} s (median)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "benchmark": "insight",
                    "facts": facts,
                    "target_s": TARGET_SECONDS,
                    "pages": rows,
                    "missed": missed,
                },
                indent=2,
            )
        )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())

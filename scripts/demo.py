#!/usr/bin/env python3
"""make demo: run the whole DAG once on the bundled sample and print what it did."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import psycopg
from local_env import AIRFLOW_HOME, BIN, airflow_env, migrate_metadata, warehouse_url


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--date", default="2005-06-01", help="logical date of the run (the RFM as-of date)")
    ap.add_argument("--database", default="vehicle_sales")
    args = ap.parse_args()

    url = warehouse_url(args.database)
    print(f"warehouse: {url}")
    env = airflow_env(url)
    print(f"airflow home: {AIRFLOW_HOME} (SQLite metadata)")
    migrate_metadata(env)
    log_path = AIRFLOW_HOME / "demo-run.log"
    print(f"running: airflow dags test vehicle_sales_rfm {args.date}   (full log: {log_path})")
    start = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.run(
            [str(BIN / "airflow"), "dags", "test", "vehicle_sales_rfm", args.date],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    elapsed = time.perf_counter() - start
    text = log_path.read_text(errors="replace")
    for line in text.splitlines():
        if " summary: " in line:
            print("  " + line.split("[info     ]")[-1].split(" [vehicle_sales]")[0].strip())
    ok = proc.returncode == 0 and "state=success" in text
    print(f"DAG run {'succeeded' if ok else 'FAILED'} in {elapsed:.1f} s")
    if not ok:
        print(f"see {log_path}", file=sys.stderr)
        return 1
    print_summary(url)
    return 0


def print_summary(url: str) -> None:
    with psycopg.connect(url) as conn:
        q = lambda sql: conn.execute(sql).fetchone()  # noqa: E731
        read, loaded, dup, rej = q(
            "SELECT coalesce(sum(rows_read),0), coalesce(sum(rows_loaded),0),"
            " coalesce(sum(rows_duplicate),0), coalesce(sum(rows_rejected),0) FROM source_files"
        )
        print(f"\nrows: read {read} = loaded {loaded} + duplicate {dup} + rejected {rej}")
        for reason, n in conn.execute(
            "SELECT reason, count(*) FROM raw_orders_rejects GROUP BY 1 ORDER BY 2 DESC LIMIT 5"
        ):
            print(f"  rejected {n:>4}: {reason}")
        c, a, p, o, ol = q(
            "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM addresses),"
            " (SELECT count(*) FROM products), (SELECT count(*) FROM orders),"
            " (SELECT count(*) FROM order_lines)"
        )
        print(f"warehouse: {c} customers, {a} addresses, {p} products, {o} orders, {ol} order lines")
        phones = q(
            "SELECT count(*) FILTER (WHERE phone_valid), count(*) FILTER (WHERE NOT phone_valid) FROM customers"
        )
        print(f"phones: {phones[0]} valid, {phones[1]} invalid")
        geo = conn.execute("SELECT geocode_status, count(*) FROM addresses GROUP BY 1 ORDER BY 1").fetchall()
        print("addresses by geocode status: " + ", ".join(f"{s} {n}" for s, n in geo))
        run = q(
            "SELECT run_id, as_of_date, n_customers, n_clusters, algorithm, silhouette, calinski_harabasz,"
            " davies_bouldin FROM rfm_run WHERE status = 'loaded' ORDER BY calculated_on DESC LIMIT 1"
        )
        if run is None:
            print("segments: none yet")
            return
        rid, as_of, n, k, algo, sil, ch, dbi = run
        print(f"\nsegments (rfm_run {rid}, as of {as_of}): {n} customers, k={k}, {algo}")
        print(f"  silhouette {sil:.3f}, Calinski-Harabasz {ch:.1f}, Davies-Bouldin {dbi:.3f}")
        rows = conn.execute(
            "SELECT d.label, count(*), round(100.0 * count(*) / sum(count(*)) OVER (), 1),"
            " round(100.0 * sum(h.monetary_amt) / sum(sum(h.monetary_amt)) OVER (), 1),"
            " round(avg(h.recency_days)), round(avg(h.frequency), 1), round(avg(h.monetary_amt))"
            " FROM customer_segment_history h JOIN rfm_segment_def d USING (segment_id)"
            " WHERE h.run_id = %s GROUP BY d.label, d.value_rank ORDER BY d.value_rank",
            (rid,),
        ).fetchall()
        print(f"  {'segment':<22}{'customers':>10}{'share':>8}{'revenue':>9}{'R':>7}{'F':>7}{'M':>12}")
        for label, cnt, share, rev, r, f, m in rows:
            print(f"  {label:<22}{cnt:>10}{share:>7}%{rev:>8}%{r:>7}{f:>7}{m:>12,}")
        print("\nreports: see the 'report summary' line above for the folder (Markdown, HTML, PNG charts)")


if __name__ == "__main__":
    sys.exit(main())

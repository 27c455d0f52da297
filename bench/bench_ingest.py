#!/usr/bin/env python3
"""Benchmark: staging (COPY + validation) and core refresh for 10k, 100k and 1M order lines, plus an
incremental run that adds 1% new rows. Each size runs in its own process (peak RSS per size) against
a scratch database on the test server. Targets: 1M lines staged + refreshed < 20 s; the 1% incremental
run < 5% of the full run's time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "include"), str(ROOT)]
DATA = ROOT / "bench" / "data"


def server_url() -> str:
    url = os.environ.get("TEST_PG_SERVER_URL")
    if url:
        return url
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "provision_db.py"), "--server-only"],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip().splitlines()[-1]


def ensure_file(
    lines: int, first_order: int = 10100, tag: str = "full", customers: int | None = None
) -> Path:
    from devtools.sample_data import write_csv

    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"orders_{lines}_{tag}.csv"
    if not path.exists():
        write_csv(path, n_lines=lines, seed=7, n_customers=customers, first_order_number=first_order)
    return path


def one_size(lines: int) -> dict:
    import psycopg

    from vehicle_sales.common.schema import apply_schema
    from vehicle_sales.common.sql import render_template
    from vehicle_sales.ingest.download import FetchedFile, fingerprint, register
    from vehicle_sales.ingest.encoding import choose_encoding
    from vehicle_sales.ingest.reference import load_reference_data
    from vehicle_sales.ingest.staging import stage_file

    customers = max(92, lines // 30)
    full = ensure_file(lines, customers=customers)
    delta = ensure_file(max(lines // 100, 1), first_order=10_000_000, tag="delta", customers=customers)
    server = server_url()
    name = f"vsr_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    url = server.rsplit("/", 1)[0] + "/" + name
    result: dict = {"lines": lines}
    try:
        with psycopg.connect(url) as conn:
            apply_schema(conn)
            load_reference_data(conn)

            def ingest(path: Path, label: str) -> None:
                sha, size, lines = fingerprint(path)
                reg = register(conn, FetchedFile(path, str(path), sha, size, lines), lines, "bench")
                codec = choose_encoding(path, "auto").codec
                t0 = time.perf_counter()
                counts = stage_file(conn, path, reg.file_id, codec)
                t1 = time.perf_counter()
                conn.execute(
                    render_template(
                        "ingest/refresh_core.sql", dag_id="bench", run_id=label, task_id="refresh_core"
                    )
                )
                conn.commit()
                t2 = time.perf_counter()
                assert counts.balanced() and counts.rejected == 0, counts.summary()
                result[label] = {
                    "stage_s": round(t1 - t0, 2),
                    "refresh_s": round(t2 - t1, 2),
                    "total_s": round(t2 - t0, 2),
                    "rows": counts.loaded,
                    "rows_per_s": round(counts.loaded / (t2 - t0)),
                }

            ingest(full, "full")
            ingest(delta, "incremental_1pct")
    finally:
        with psycopg.connect(server, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    result["incremental_share"] = round(result["incremental_1pct"]["total_s"] / result["full"]["total_s"], 4)
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one_size(args.one)))
        return 0
    rows = []
    for size in [int(s) for s in args.sizes.split(",")]:
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(size)], check=True, capture_output=True, text=True
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(
        f"{'lines':>9} {'stage s':>8} {'refresh s':>10} {'total s':>8} {'rows/s':>9} {'peak MB':>8}"
        f" {'+1% s':>7} {'+1% share':>10}"
    )
    for r in rows:
        f, d = r["full"], r["incremental_1pct"]
        print(
            f"{r['lines']:>9} {f['stage_s']:>8} {f['refresh_s']:>10} {f['total_s']:>8} {f['rows_per_s']:>9}"
            f" {r['peak_rss_mb']:>8} {d['total_s']:>7} {r['incremental_share']:>10.1%}"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

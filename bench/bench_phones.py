#!/usr/bin/env python3
"""Benchmark: phone validation (vehicle_sales.contact.phones.validate_phones) for 10k and 100k customers.

Customers are inserted directly (phones and countries drawn from the sample generator's formats)
into a scratch database on the server of TEST_PG_SERVER_URL (default
postgresql://postgres@127.0.0.1:5432/postgres), dropped afterwards. Per size: the full first run,
a re-run with nothing changed, and an incremental run after 1% of the phones changed. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "include"), str(ROOT)]

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def _with_db(url: str, dbname: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    return urlunsplit(urlsplit(url)._replace(path="/" + dbname))


def synthetic_customers(n: int, seed: int = 11) -> list[tuple[str, str, str]]:
    """(company, phone, country name as exported), phones in the generator's per-country formats."""
    from devtools.sample_data import COUNTRIES, _phone

    rng = random.Random(seed)
    names = list(COUNTRIES)
    out = []
    for i in range(n):
        country = names[i % len(names)]
        out.append((f"Bench Customer {i}", _phone(rng, COUNTRIES[country][2]), country))
    return out


def load(conn, customers: list[tuple[str, str, str]]) -> None:
    with conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE bench_src (company text, phone text, country text) ON COMMIT DROP")
        with cur.copy("COPY bench_src (company, phone, country) FROM STDIN") as cp:
            for row in customers:
                cp.write_row(row)
        cur.execute(
            "INSERT INTO customers (company_name, phone) SELECT company, nullif(btrim(phone), '')"
            " FROM bench_src"
        )
        cur.execute(
            "INSERT INTO addresses (customer_id, st_addr, country_code, source_key)"
            " SELECT c.customer_id, '1 Main Street', resolve_country(s.country), 'bench'"
            " FROM bench_src s JOIN customers c ON c.company_name = s.company"
        )
    conn.commit()
    conn.execute("ANALYZE customers")
    conn.execute("ANALYZE addresses")
    conn.commit()


def one_size(server: str, n: int, batch_size: int) -> dict:
    import psycopg

    from vehicle_sales.common.db import Actor
    from vehicle_sales.common.schema import apply_schema
    from vehicle_sales.contact.phones import validate_phones
    from vehicle_sales.ingest.reference import load_reference_data

    name = f"vsr_bench_phones_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    result: dict = {"customers": n, "batch_size": batch_size}
    try:
        with psycopg.connect(_with_db(server, name)) as conn:
            apply_schema(conn)
            load_reference_data(conn)
            t0 = time.perf_counter()
            load(conn, synthetic_customers(n))
            result["load_s"] = round(time.perf_counter() - t0, 2)
            actor = Actor("bench", "bench_phones", "validate_phones")

            def timed(label: str) -> None:
                t = time.perf_counter()
                counts = validate_phones(conn, batch_size=batch_size, actor=actor)
                s = time.perf_counter() - t
                result[label] = {
                    "seconds": round(s, 3),
                    "validated": counts.validated,
                    "rows_per_s": round(counts.validated / s) if counts.validated else None,
                    "batches": counts.batches,
                    "valid": counts.valid,
                    "invalid": counts.invalid,
                    "by_reason": counts.by_reason,
                }

            timed("full")
            timed("rerun_unchanged")
            changed = conn.execute(
                "UPDATE customers SET phone = phone || ' x1'"
                " WHERE customer_id % 100 = 0 AND phone IS NOT NULL"
            ).rowcount
            conn.commit()
            timed("incremental_1pct")
            assert result["rerun_unchanged"]["validated"] == 0, result
            assert result["incremental_1pct"]["validated"] == changed, result
    finally:
        with psycopg.connect(server, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    server = os.environ.get("TEST_PG_SERVER_URL") or DEFAULT_SERVER
    results = [one_size(server, n, args.batch_size) for n in args.sizes]
    out = json.dumps({"benchmark": "phone_validation", "results": results}, indent=2)
    print(out)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(out)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Benchmark: geocode_addresses for 1k and 10k synthetic addresses against the fake ArcGIS server
(devtools/fake_arcgis.py, real HTTP on 127.0.0.1, started in-process) on a scratch database of the test
server. Batches as the World service advertises them (SuggestedBatchSize 150, MaxBatchSize 1000); no
rate limit, so the figures are our overhead (HTTP + JSON + set-based writes), not ArcGIS's speed.
Each size also times a second run (every address settled: selection only) and a run after 10% of the
addresses were re-created for other customers (served from the cache). Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "include"), str(ROOT)]
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")


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


def synthetic_addresses(conn, n: int, offset: int = 0) -> None:
    """``n`` customers with one address each (COPY)."""
    countries = [r[0] for r in conn.execute("SELECT alpha3 FROM iso_country_codes ORDER BY alpha3 LIMIT 40")]
    with conn.cursor() as cur:
        with cur.copy("COPY customers (customer_id, company_name) FROM STDIN") as cp:
            for i in range(offset, offset + n):
                cp.write_row((i + 1, f"Bench Customer {i}"))
        with cur.copy(
            "COPY addresses (customer_id, source_key, st_addr, city, region, postal_code, country_code)"
            " FROM STDIN"
        ) as cp:
            for i in range(offset, offset + n):
                st, city, postal = (
                    f"{i % 997 + 1} Market Street {i}",
                    f"City {i % 311}",
                    f"{10000 + i % 89999}",
                )
                cp.write_row(
                    (
                        i + 1,
                        f"{st}|{city}|{postal}",
                        st,
                        city,
                        f"R{i % 50}",
                        postal,
                        countries[i % len(countries)],
                    )
                )
        cur.execute("SELECT setval('customers_customer_id_seq', (SELECT max(customer_id) FROM customers))")
    conn.commit()


def one_size(n: int, server: str) -> dict:
    import psycopg

    from devtools.fake_arcgis import FakeArcGIS
    from vehicle_sales.common.schema import apply_schema
    from vehicle_sales.contact.arcgis.hook import ArcGISGeocodingHook
    from vehicle_sales.contact.geocoding import geocode_addresses
    from vehicle_sales.ingest.reference import load_reference_data

    logging.getLogger("vehicle_sales").setLevel(logging.WARNING)  # stdout is for the JSON
    name = f"vsr_bench_geo_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    url = server.rsplit("/", 1)[0] + "/" + name
    out: dict = {"addresses": n}
    try:
        with (
            FakeArcGIS(api_key="bench-key", max_batch=1000, suggested_batch=150) as fake,
            psycopg.connect(url) as conn,
        ):
            os.environ["AIRFLOW_CONN_ARCGIS_GEOCODING"] = fake.connection_uri()
            apply_schema(conn)
            load_reference_data(conn)
            synthetic_addresses(conn, n)

            def timed(label: str) -> dict:
                hook = ArcGISGeocodingHook(requests_per_second=None, max_retries=2, backoff_base=0.05)
                before = fake.count()
                t = time.perf_counter()
                counts = geocode_addresses(conn, hook, max_requests=1_000_000)
                secs = time.perf_counter() - t
                hook.close()
                return {
                    f"{label}_seconds": round(secs, 3),
                    f"{label}_addresses_per_s": round(counts.selected / secs, 1) if counts.selected else None,
                    f"{label}_requests": fake.count() - before,
                    f"{label}_selected": counts.selected,
                    f"{label}_from_cache": counts.from_cache,
                    f"{label}_sent": counts.sent,
                    **(
                        {
                            "outcomes": {
                                k: getattr(counts, k)
                                for k in ("matched", "low_score", "unmatched", "failed", "pending")
                            }
                        }
                        if label == "first"
                        else {}
                    ),
                }

            out.update(timed("first"))
            out["batch_sizes"] = sorted(set(fake.batch_sizes()))
            out.update(timed("settled"))
            # 10% of the addresses again, for new customers: the cache answers, no request is made
            extra = n // 10
            with conn.cursor() as cur:
                cur.execute(
                    "INSERT INTO customers (customer_id, company_name) SELECT customer_id + %s,"
                    " company_name || ' (2)' FROM customers WHERE customer_id <= %s",
                    (n, extra),
                )
                cur.execute(
                    "INSERT INTO addresses (customer_id, source_key, st_addr, city, region, postal_code,"
                    " country_code) SELECT a.customer_id + %s, a.source_key || '#2', o.st_addr, o.city,"
                    " o.region, o.postal_code, o.country_code FROM addresses a"
                    " JOIN addresses_audit o ON o.address_id = a.address_id AND o.operation = 'I'"
                    " WHERE a.customer_id <= %s",
                    (n, extra),
                )
            conn.commit()
            out.update(timed("cache"))
    finally:
        with psycopg.connect(server, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    server = server_url()
    results = {"benchmark": "geocoding", "runs": [one_size(int(s), server) for s in args.sizes.split(",")]}
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

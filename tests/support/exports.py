"""Build export files for tests: a known-good row and ways to break it."""

from __future__ import annotations

import csv
from pathlib import Path

import psycopg
from vehicle_sales.ingest.download import FetchedFile, count_records, register, sha256_of
from vehicle_sales.ingest.staging import COLUMNS, StageCounts, stage_file

GOOD = {
    "ORDERNUMBER": "10100", "QUANTITYORDERED": "30", "PRICEEACH": "95.70", "ORDERLINENUMBER": "1",
    "SALES": "2871.00", "ORDERDATE": "2/24/2003 0:00", "STATUS": "Shipped", "QTR_ID": "1", "MONTH_ID": "2",
    "YEAR_ID": "2003", "PRODUCTLINE": "Motorcycles", "MSRP": "95", "PRODUCTCODE": "S10_1678",
    "CUSTOMERNAME": "Berglunds snabbköp", "PHONE": "0921-12 3555", "ADDRESSLINE1": "Berguvsvägen 8",
    "ADDRESSLINE2": "", "CITY": "Luleå", "STATE": "", "POSTALCODE": "S-958 22", "COUNTRY": "Sweden",
    "TERRITORY": "EMEA", "CONTACTLASTNAME": "Berglund", "CONTACTFIRSTNAME": "Christina", "DEALSIZE": "Small",
}


def row(**changes: str) -> list[str]:
    values = {**GOOD, **changes}
    return [values[c] for c in COLUMNS]


def write_csv(path: Path, rows: list[list[str]], header: list[str] | None = None, encoding: str = "cp1252",
              lineterminator: str = "\r\n") -> Path:
    with open(path, "w", encoding=encoding, newline="") as fh:
        w = csv.writer(fh, lineterminator=lineterminator)
        w.writerow(list(COLUMNS) if header is None else header)
        w.writerows(rows)
    return path


def ingest(conn: psycopg.Connection, path: Path, codec: str = "cp1252") -> StageCounts:
    sha, size = sha256_of(path)
    reg = register(conn, FetchedFile(path, str(path), sha, size), count_records(path), "test")
    return stage_file(conn, path, reg.file_id, codec)


def table_counts(conn: psycopg.Connection) -> dict[str, int]:
    tables = ("raw_orders_csv", "raw_orders_rejects", "customers", "addresses", "products", "orders",
              "order_lines")
    return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}

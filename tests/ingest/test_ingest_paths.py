"""The fast ways through ingestion give exactly what the careful ways give.

Staging streams rows that are valid as they stand straight into raw_orders_csv (PostgreSQL reads
the text), validates and converts the others in Python, and classifies rows of known orders or
repeated keys in SQL; large loads drop and re-create foreign keys around the insert. Each of these
is checked against the path it shortcuts, on a real PostgreSQL.
"""

from __future__ import annotations

import csv

import psycopg
import pytest
from test_refresh_core import export_rows, state

from support import ingest, refresh_core, row, write_csv
from vehicle_sales.common.columns import COLUMNS
from vehicle_sales.common.sql import environment
from vehicle_sales.ingest.reference import load_reference_data
from vehicle_sales.ingest.rows import RowValidator

RAW_VALUES = (
    "SELECT source_line, "
    + ", ".join(c.lower() for c in COLUMNS)
    + " FROM raw_orders_csv ORDER BY source_line"
)
FKS = (
    "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint"
    " WHERE contype = 'f' ORDER BY 1, 2"
)

# rows that need the careful path next to rows that do not
VARIED = [
    row(ORDERLINENUMBER="1"),
    row(ORDERLINENUMBER="2", STATUS="shipped", DEALSIZE="SMALL"),  # canonical case
    row(ORDERLINENUMBER="3", CITY="  Luleå ", ADDRESSLINE2="  "),  # padding, blank
    row(ORDERLINENUMBER="4", QUANTITYORDERED="+7", PRICEEACH="95.7"),  # sign, short decimal
    row(ORDERLINENUMBER="5", ORDERDATE="2003-02-25"),  # ISO date
    row(ORDERLINENUMBER="6", ORDERDATE="12/31/2004 13:05"),  # time of day
    row(ORDERLINENUMBER="7", ORDERDATE="2003-02-24T10:30:00Z"),  # ISO timestamp
    row(ORDERLINENUMBER="8", ADDRESSLINE1="2,rue du Commerce", CUSTOMERNAME='The "Big" Shop'),  # quoting
    row(ORDERLINENUMBER="9", SALES="", MSRP="", QTR_ID="", MONTH_ID="", YEAR_ID=""),
    row(ORDERLINENUMBER="10", QUANTITYORDERED="007", PRICEEACH=".50", SALES="3."),
    row(ORDERLINENUMBER="11", PHONE="\u00a0+46 921 12 3555\u00a0"),  # no-break spaces
    row(ORDERLINENUMBER="12", CONTACTLASTNAME="Berglund\tJr"),  # a tab inside
    row(ORDERLINENUMBER="13", ORDERNUMBER="010101"),  # leading zero
    row(ORDERLINENUMBER="14", ADDRESSLINE1="2, rue du Commerce"),  # ', ': maybe padding
]


def test_fast_text_takes_only_rows_postgres_reads_as_validation_would():
    v = RowValidator()
    taken = [i + 1 for i, r in enumerate(VARIED) if v.fast_text(r) is not None]
    # numbers PostgreSQL reads to the same value (+7, 007), ISO and M/D/YYYY H:MM dates and empty
    # optional fields go as they stand; anything to strip, recase, convert or doubt does not
    assert taken == [1, 4, 5, 6, 8, 9]
    assert v.fast_text(row(ORDERLINENUMBER="1")) == ",".join(row(ORDERLINENUMBER="1"))


def test_fast_and_careful_paths_store_identical_values(fresh_db_factory, tmp_path):
    """The same rows, once in the export's column order (fast path where possible) and once with the
    columns reversed (every row validated and converted in Python), land identically."""
    a, b = fresh_db_factory(), fresh_db_factory()
    with psycopg.connect(a) as c:
        counts = ingest(c, write_csv(tmp_path / "a.csv", VARIED))
        assert (counts.read, counts.loaded, counts.rejected) == (14, 14, 0)
        fast = c.execute(RAW_VALUES).fetchall()
    reversed_cols = list(reversed(COLUMNS))
    with open(tmp_path / "b.csv", "w", encoding="cp1252", newline="") as fh:
        w = csv.writer(fh, lineterminator="\r\n")
        w.writerow(reversed_cols)
        for r in VARIED:
            w.writerow(list(reversed(r)))
    with psycopg.connect(b) as c:
        ingest(c, tmp_path / "b.csv")
        careful = c.execute(RAW_VALUES).fetchall()
    assert fast == careful
    city = {r[0]: r[COLUMNS.index("CITY") + 1] for r in fast}
    assert city[4] == "Luleå"  # stripped on both paths


def test_raw_ids_follow_the_file_order_when_some_rows_are_classified(conn, tmp_path):
    ingest(conn, write_csv(tmp_path / "a.csv", [row(ORDERNUMBER="10100", ORDERLINENUMBER="1")]))
    second = [
        row(ORDERNUMBER="10200", ORDERLINENUMBER="1"),
        row(ORDERNUMBER="10100", ORDERLINENUMBER="2"),  # an order already loaded: classified in SQL
        row(ORDERNUMBER="10200", ORDERLINENUMBER="2"),
        row(ORDERNUMBER="10200", ORDERLINENUMBER="1"),
    ]  # repeats line 2 of this file: duplicate
    c = ingest(conn, write_csv(tmp_path / "b.csv", second))
    assert (c.read, c.loaded, c.duplicate, c.rejected) == (4, 3, 1, 0)
    got = conn.execute(
        "SELECT ordernumber, orderlinenumber, source_line FROM raw_orders_csv"
        " WHERE source_file_id = (SELECT max(file_id) FROM source_files) ORDER BY raw_id"
    ).fetchall()
    assert got == [(10200, 1, 2), (10100, 2, 3), (10200, 2, 4)]


def _load(url, tmp_path, threshold: int | None):
    with psycopg.connect(url) as c:
        if threshold is not None:
            c.execute("SELECT set_config('vehicle_sales.bulk_threshold', %s, false)", (str(threshold),))
        load_reference_data(c)
        ingest(c, write_csv(tmp_path / f"{url[-6:]}.csv", export_rows()))
        refresh_core(c)
        return c.execute(FKS).fetchall()


def test_bulk_path_gives_the_same_tables_and_restores_every_foreign_key(fresh_db_factory, tmp_path):
    plain, bulk = fresh_db_factory(), fresh_db_factory()
    with psycopg.connect(plain) as c:
        before = c.execute(FKS).fetchall()
    assert _load(plain, tmp_path, None) == before
    assert _load(bulk, tmp_path, 1) == before  # every row took the bulk path here
    assert state(bulk) == state(plain)


def bulk_macro(call: str) -> str:
    """One macro of sql/common/bulk_foreign_keys.sql, rendered."""
    return (
        environment()
        .from_string("{% import 'common/bulk_foreign_keys.sql' as bulk %}{{ bulk." + call + " }}")
        .render()
    )


def test_bulk_path_still_refuses_an_orphan(conn):
    conn.execute(bulk_macro("drop_foreign_keys(['order_lines'], 50000)"))
    conn.execute("INSERT INTO order_lines (order_no, line_no, product_code) VALUES (999, 1, 'nope')")
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        conn.execute(bulk_macro("restore_foreign_keys()"))
    conn.rollback()
    assert conn.execute("SELECT count(*) FROM order_lines").fetchone()[0] == 0
    assert len(conn.execute(FKS + "").fetchall()) > 0

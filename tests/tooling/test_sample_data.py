"""The bundled sample is what the committed generator writes, and has the shape the issue asks for."""

from __future__ import annotations

import csv
import io

from devtools import sample_data
from vehicle_sales.common.columns import COLUMNS, STATUSES
from vehicle_sales.common.paths import SAMPLE_CSV
from vehicle_sales.ingest.rows import RowValidator


def rows(raw: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(raw.decode("cp1252"), newline="")))


def test_committed_sample_is_exactly_what_the_generator_writes(tmp_path):
    fresh = sample_data.write_csv(tmp_path / "sample.csv")
    assert fresh.read_bytes() == SAMPLE_CSV.read_bytes(), "run `make sample` and commit data/"


def test_sample_has_the_exports_shape_and_mess():
    raw = SAMPLE_CSV.read_bytes()
    assert raw.count(b"\r\n") == 3001 and not raw.startswith(b"\xef\xbb\xbf")
    with __import__("pytest").raises(UnicodeDecodeError):
        raw.decode("utf-8")  # a legacy code page, not UTF-8
    header, *body = rows(raw)
    assert tuple(header) == COLUMNS == sample_data.COLUMNS and len(body) == 3000
    col = {name: i for i, name in enumerate(header)}
    customers = {r[col["CUSTOMERNAME"]] for r in body}
    countries = {r[col["COUNTRY"]] for r in body}
    assert 85 <= len(customers) <= 95 and len(countries) == 19
    assert {r[col["STATUS"]] for r in body} == set(STATUSES)
    streets = {r[col["ADDRESSLINE1"]] for r in body}
    assert {"Berguvsvägen 8", "Rambla de Cataluña, 23"} <= streets
    orders = {}
    for r in body:
        orders.setdefault(r[col["CUSTOMERNAME"]], set()).add(r[col["ORDERNUMBER"]])
    counts = sorted((len(v) for v in orders.values()), reverse=True)
    assert counts[0] >= 20 and counts[1] >= 15 and sorted(counts)[len(counts) // 2] <= 3  # few heavy buyers
    years = {r[col["YEAR_ID"]] for r in body}
    assert years == {"2003", "2004", "2005"}
    validate = RowValidator()
    for r in body:  # every generated row passes the staging rules
        validate(list(r))


def test_generator_is_deterministic_scalable_and_exact_in_length(tmp_path):
    a = list(sample_data.generate_rows(5000, seed=1, n_customers=400, first_order_number=500))
    b = list(sample_data.generate_rows(5000, seed=1, n_customers=400, first_order_number=500))
    assert a == b and len(a) == 5000
    assert len({r[13] for r in a}) == 400 and min(int(r[0]) for r in a) == 500
    keys = {(r[0], r[3]) for r in a}
    assert len(keys) == len(a)  # (order number, line number) is unique
    assert len(list(sample_data.generate_rows(7, seed=3))) == 7

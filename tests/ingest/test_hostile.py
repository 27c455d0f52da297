"""A hostile corpus, held to the promise: every line accounted for (loaded, duplicate or rejected,
with a reason), nothing silently wrong, a clear error for what cannot be loaded at all, and one
bad file never blocks the next: after every case a clean file loads and refreshes.

Each case builds an export from a known-good row (tests/support.py), stages it through both paths
(the fast numpy gate and the careful row-by-row path must agree), refreshes the core tables, and
asserts the exact outcome. Classes follow issue 13: overflow, messages, extra columns, library
limits, encodings, line accounting, order consistency, silent value changes, text identity,
blank values, plus the cases that were already right (kept so they stay right).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from support import ingest, refresh_core, row, write_csv
from vehicle_sales.common.columns import COLUMNS
from vehicle_sales.common.errors import BadExportError
from vehicle_sales.ingest.encoding import choose_encoding

CLEAN_ORDER = 99001


@dataclass
class Case:
    name: str
    build: Callable[[Path], Path]  # writes the export, returns its path
    read: int | None = None  # expected counts (None: not checked)
    loaded: int | None = None
    duplicate: int = 0
    rejected: int | None = None
    reasons: tuple[str, ...] = ()  # substrings, one per expected reject (any order)
    error: str | None = None  # a BadExportError whose message contains this
    codec: str = "cp1252"
    check: Callable | None = None  # (conn) -> None, after the refresh
    extra: dict = field(default_factory=dict)
    detect: bool = False  # the codec is detected from the file (as stage_raw does) and must be `codec`
    before: Callable[[Path], Path] | None = None  # an earlier export, ingested and refreshed first


def lines(path: Path, rows: list[list[str]], header: list[str] | None = None, **kw) -> Path:
    return write_csv(path, rows, header=header, **kw)


def raw(path: Path, text: str, encoding: str = "cp1252") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def raw_bytes(path: Path, *parts: tuple[str, str]) -> Path:
    """A file of text parts, each in its own encoding: (text, encoding)."""
    path.write_bytes(b"".join(text.encode(enc) for text, enc in parts))
    return path


def one(c, query: str, *args):
    return c.execute(query, args).fetchone()


def header_line(cols=COLUMNS) -> str:
    return ",".join(cols)


def csv_line(values: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(values)
    return buf.getvalue()


def good(n: int, start: int = 10100, **changes) -> list[list[str]]:
    """n good lines of n orders."""
    return [row(ORDERNUMBER=str(start + i), **changes) for i in range(n)]


CASES: list[Case] = []


def case(**kw):
    CASES.append(Case(**kw))


# ----------------------------------------------------------------------- already right, kept right
case(name="clean file", build=lambda p: lines(p, good(3)), read=3, loaded=3, rejected=0)
case(
    name="reordered columns",
    build=lambda p: lines(p, [list(reversed(r)) for r in good(2)], header=list(reversed(COLUMNS))),
    read=2,
    loaded=2,
    rejected=0,
)
case(
    name="lower-case header",
    build=lambda p: lines(p, good(2), header=[c.lower() for c in COLUMNS]),
    read=2,
    loaded=2,
    rejected=0,
)
case(
    name="embedded newline in a quoted field",
    build=lambda p: lines(p, good(1) + [row(ORDERNUMBER="10200", ADDRESSLINE2="Floor 2\nBack door")]),
    read=3,  # physical lines: the second record spans two
    loaded=3,
    rejected=0,
)
case(
    name="NaN and Infinity prices",
    build=lambda p: lines(
        p, good(1) + [row(ORDERNUMBER="10201", PRICEEACH="NaN"), row(ORDERNUMBER="10202", SALES="Infinity")]
    ),
    read=3,
    loaded=1,
    rejected=2,
    reasons=("PRICEEACH 'NaN' is not a number", "SALES 'Infinity' is not a number"),
)
case(
    name="dollar prices and thousands separators",
    build=lambda p: lines(
        p, [row(ORDERNUMBER="10203", PRICEEACH="$95.70"), row(ORDERNUMBER="10204", SALES="2,871.00")]
    ),
    read=2,
    loaded=0,
    rejected=2,
    reasons=("PRICEEACH '$95.70' is not a number", "SALES '2,871.00' is not a number"),
)
case(
    name="year 0001 and 2099",
    build=lambda p: lines(
        p,
        [
            row(ORDERNUMBER="10205", ORDERDATE="1/1/0001 0:00"),
            row(ORDERNUMBER="10206", ORDERDATE="1/1/2099 0:00", YEAR_ID="2099"),
        ],
    ),
    read=2,
    loaded=1,
    rejected=1,
    reasons=("ORDERDATE '1/1/0001 0:00' is not a date",),
)
case(
    name="repeated header line inside the data",
    build=lambda p: raw(
        p,
        "\r\n".join([header_line(), csv_line(good(1)[0]), header_line(), csv_line(good(1, 10300)[0])])
        + "\r\n",
    ),
    read=3,
    loaded=2,
    rejected=1,
)
case(
    name="exact duplicate line",
    build=lambda p: lines(p, good(1) + good(1)),
    read=2,
    loaded=1,
    duplicate=1,
    rejected=0,
)
case(
    name="same key, different values: a conflict, both versions kept",
    build=lambda p: lines(p, good(1) + [row(QUANTITYORDERED="31")]),
    read=2,
    loaded=1,
    rejected=1,
    reasons=("conflict",),
)
case(name="empty file", build=lambda p: raw(p, ""), error="empty")
case(name="header only", build=lambda p: raw(p, header_line() + "\r\n"), read=0, loaded=0, rejected=0)
case(
    name="semicolon-separated",
    build=lambda p: raw(
        p, header_line().replace(",", ";") + "\r\n" + csv_line(good(1)[0]).replace(",", ";") + "\r\n"
    ),
    error="semicolon",
)
case(
    name="a required column missing",
    build=lambda p: lines(p, [r[1:] for r in good(1)], header=list(COLUMNS[1:])),
    error="ORDERNUMBER",
)
case(
    name="blank lines between records",
    build=lambda p: raw(
        p,
        header_line() + "\r\n" + csv_line(good(1)[0]) + "\r\n\r\n\r\n" + csv_line(good(1, 10400)[0]) + "\r\n",
    ),
    read=2,  # blank lines are counted apart: read + blank = the file's data lines
    loaded=2,
    rejected=0,
    extra={"blank": 2},
)
case(
    name="NUL byte in a field",
    build=lambda p: raw(p, header_line() + "\r\n" + csv_line(row(CITY="Lul\x00eå")) + "\r\n"),
    read=1,
    loaded=0,
    rejected=1,
    reasons=("NUL",),
)
case(
    name="negative quantity and a zero line number",
    build=lambda p: lines(
        p, [row(ORDERNUMBER="10500", QUANTITYORDERED="-5"), row(ORDERNUMBER="10501", ORDERLINENUMBER="0")]
    ),
    read=2,
    loaded=0,
    rejected=2,
    reasons=("QUANTITYORDERED -5 is negative", "ORDERLINENUMBER 0 is below 1"),
)
case(
    name="unknown status and deal size",
    build=lambda p: lines(
        p, [row(ORDERNUMBER="10502", STATUS="Lost"), row(ORDERNUMBER="10503", DEALSIZE="Huge")]
    ),
    read=2,
    loaded=0,
    rejected=2,
    reasons=("STATUS 'Lost' is not one of", "DEALSIZE 'Huge' is not one of"),
)
case(
    name="too few fields on a line",
    build=lambda p: raw(p, header_line() + "\r\n" + ",".join(good(1)[0][:10]) + "\r\n"),
    read=1,
    loaded=0,
    rejected=1,
)
case(
    name="UTF-8 with BOM",
    build=lambda p: raw(p, "\ufeff" + header_line() + "\r\n" + csv_line(good(1)[0]) + "\r\n", "utf-8"),
    codec="utf-8-sig",
    read=1,
    loaded=1,
    rejected=0,
    check=lambda c: c.execute("SELECT 1 FROM customers WHERE company_name = 'Berglunds snabbköp'").fetchone(),
)


# ----------------------------------------------------------------------- 1. overflow never poisons
case(
    name="blank SALES whose QUANTITY x PRICE overflows order_lines.sales",
    build=lambda p: lines(
        p,
        good(1) + [row(ORDERNUMBER="11001", SALES="", QUANTITYORDERED="2000000000", PRICEEACH="99999999.99")],
    ),
    read=2,
    loaded=1,
    rejected=1,
    reasons=("SALES (QUANTITYORDERED x PRICEEACH",),
)
case(
    name="PRICEEACH beyond numeric(10,2)",
    build=lambda p: lines(p, [row(ORDERNUMBER="11002", PRICEEACH="123456789.00")]),
    read=1,
    loaded=0,
    rejected=1,
    reasons=("PRICEEACH 123456789.00 is too large",),
)
case(
    name="ORDERNUMBER beyond int",
    build=lambda p: lines(p, [row(ORDERNUMBER="99999999999")]),
    read=1,
    loaded=0,
    rejected=1,
    reasons=("ORDERNUMBER 99999999999 is above",),
)
# ----------------------------------------------------------------------- 2b. extra columns anywhere
case(
    name="an extra column at the end",
    build=lambda p: lines(p, [r + ["extra"] for r in good(2)], header=[*COLUMNS, "NOTES"]),
    read=2,
    loaded=2,
    rejected=0,
)
case(
    name="a trailing comma on every line",
    build=lambda p: raw(
        p, "\r\n".join([header_line() + ","] + [csv_line(r) + "," for r in good(2)]) + "\r\n"
    ),
    read=2,
    loaded=2,
    rejected=0,
)
case(
    name="an extra column in the middle",
    build=lambda p: lines(
        p, [r[:5] + ["x"] + r[5:] for r in good(2)], header=[*COLUMNS[:5], "NOTES", *COLUMNS[5:]]
    ),
    read=2,
    loaded=2,
    rejected=0,
)
case(
    name="about 2,000 columns",
    build=lambda p: lines(
        p,
        [r + [str(i) for i in range(1975)] for r in good(2)],
        header=[*COLUMNS, *[f"C{i}" for i in range(1975)]],
    ),
    read=2,
    loaded=2,
    rejected=0,
)
# ----------------------------------------------------------------------- 3. library limits
case(
    name="a 1 MB field",
    build=lambda p: lines(p, good(1) + [row(ORDERNUMBER="11003", ADDRESSLINE2="x" * 1_100_000)]),
    read=2,
    loaded=1,
    rejected=1,
)
case(
    name="a 300-character city",
    build=lambda p: lines(p, [row(ORDERNUMBER="11004", CITY="y" * 300)]),
    read=1,
    loaded=0,
    rejected=1,
    reasons=("CITY is 300 characters long (limit 255)",),
)
# ----------------------------------------------------------------------- 5. accounting per line
case(
    name="an unbalanced quote",
    build=lambda p: raw(
        p,
        header_line()
        + "\r\n"
        + csv_line(good(1)[0]).replace("Luleå", '"Luleå', 1)
        + "\r\n"
        + csv_line(good(1, 11005)[0])
        + "\r\n",
    ),
    read=2,
    loaded=1,
    rejected=1,
)
# ----------------------------------------------------------------------- 6. one order, one header
case(
    name="lines of one order disagree on the customer",
    build=lambda p: lines(
        p,
        [
            row(ORDERNUMBER="11100", ORDERLINENUMBER="1"),
            row(ORDERNUMBER="11100", ORDERLINENUMBER="2", CUSTOMERNAME="Other Co"),
        ],
    ),
    read=2,
    loaded=1,
    rejected=1,
    reasons=("order 11100",),
    check=lambda c: c.execute(
        "SELECT count(*) = 0 FROM customers WHERE company_name = 'Other Co'"
    ).fetchone()[0],
)
case(
    name="lines of one order disagree on the date and the status",
    build=lambda p: lines(
        p,
        [
            row(ORDERNUMBER="11101", ORDERLINENUMBER="1"),
            row(ORDERNUMBER="11101", ORDERLINENUMBER="2", ORDERDATE="3/1/2003 0:00"),
            row(ORDERNUMBER="11101", ORDERLINENUMBER="3", STATUS="Cancelled"),
        ],
    ),
    read=3,
    loaded=1,
    rejected=2,
    reasons=("ORDERDATE", "STATUS"),
)
case(
    name="lines of one order disagree, in a later export after a larger one",
    before=lambda p: lines(p, good(5)),  # the later file's rows are found by its own raw_ids
    build=lambda p: lines(
        p,
        [
            row(ORDERNUMBER="11102", ORDERLINENUMBER="1"),
            row(ORDERNUMBER="11102", ORDERLINENUMBER="2", CUSTOMERNAME="Other Co"),
        ],
    ),
    read=2,
    loaded=1,
    rejected=1,
    reasons=("order 11102 line 2 disagrees",),
)
# ----------------------------------------------------------------------- 7. no silent rounding
case(
    name="prices with three decimals",
    build=lambda p: lines(
        p,
        good(1) + [row(ORDERNUMBER="11200", PRICEEACH="95.705"), row(ORDERNUMBER="11201", SALES="2871.001")],
    ),
    read=3,
    loaded=1,
    rejected=2,
    reasons=("PRICEEACH 95.705 has more than 2 decimals", "SALES 2871.001 has more than 2 decimals"),
)
case(
    name="trailing zeros beyond two decimals are the same number",
    build=lambda p: lines(p, [row(ORDERNUMBER="11202", PRICEEACH="95.7000")]),
    read=1,
    loaded=1,
    rejected=0,
)
# ----------------------------------------------------------------------- 8. identity of text
case(
    name="invisible characters and other normal forms in a customer name",
    build=lambda p: lines(
        p,
        [
            row(ORDERNUMBER="11300"),
            row(ORDERNUMBER="11301", CUSTOMERNAME="Berglunds\u200b snabbköp"),
            row(ORDERNUMBER="11302", CUSTOMERNAME="Berglunds\u00a0snabbköp"),
            row(ORDERNUMBER="11303", CUSTOMERNAME="Berglunds  snabbko\u0308p"),
        ],
        encoding="utf-8",
    ),
    codec="utf-8",
    read=4,
    loaded=4,
    rejected=0,
    check=lambda c: (
        c.execute("SELECT count(*) = 1 FROM customers").fetchone()[0]
        and c.execute("SELECT count(DISTINCT customer_id) = 1 FROM orders").fetchone()[0]
    ),
)
# ----------------------------------------------------------------------- 12. blanks never erase
case(
    name="a blank phone and contact in the latest line keep the known ones",
    build=lambda p: lines(
        p,
        [
            row(ORDERNUMBER="11400"),
            row(ORDERNUMBER="11401", PHONE="", CONTACTLASTNAME="", CONTACTFIRSTNAME="", PRODUCTLINE=""),
        ],
    ),
    read=2,
    loaded=2,
    rejected=0,
    check=lambda c: (
        c.execute("SELECT phone, contact_last_name, contact_first_name FROM customers").fetchall()
        == [("0921-12 3555", "Berglund", "Christina")]
        and c.execute("SELECT product_line FROM products").fetchall() == [("Motorcycles",)]
    ),
)

# ----------------------------------------------------------------------- not CSV as we read it
case(
    name="UTF-16 with a byte order mark",
    build=lambda p: raw(p, "\ufeff" + header_line() + "\r\n" + csv_line(good(1)[0]) + "\r\n", "utf-16-le"),
    error="encoded in UTF-16",
)
case(
    name="UTF-16 without a byte order mark",
    build=lambda p: raw(p, header_line() + "\r\n" + csv_line(good(1)[0]) + "\r\n", "utf-16-be"),
    error="encoded in UTF-16",
)
case(
    name="classic Mac line endings (CR only)",
    build=lambda p: raw(p, "\r".join([header_line(), *map(csv_line, good(2))]) + "\r"),
    error="carriage return only",
)
case(
    name="tab-separated",
    build=lambda p: raw(p, header_line().replace(",", "\t") + "\r\n" + "\t".join(good(1)[0]) + "\r\n"),
    error="tab-separated",
)
case(
    name="a column named twice in the header",
    build=lambda p: lines(p, [r + ["Nowhere"] for r in good(1)], header=[*COLUMNS, "CITY"]),
    error="more than once in the export header: CITY",
)
case(
    name="a bare CR inside an unquoted field",
    build=lambda p: raw(
        p,
        header_line()
        + "\r\n"
        + csv_line(good(1)[0]).replace("Luleå", "Lu\rleå")
        + "\r\n"
        + csv_line(good(1, 10600)[0])
        + "\r\n",
    ),
    read=2,
    loaded=1,
    rejected=1,
    reasons=("a carriage return (CR) stands inside an unquoted field",),
)
case(
    name="a DOS end-of-file mark (Ctrl-Z) after the last line",
    build=lambda p: raw(p, header_line() + "\r\n" + csv_line(good(1)[0]) + "\r\n\x1a"),
    read=2,
    loaded=1,
    rejected=1,
    reasons=("wrong number of fields: expected 25, got 1",),
)
# ----------------------------------------------------------------------- more rows the rules reject
case(
    name="QUANTITYORDERED beyond int",
    build=lambda p: lines(p, good(1) + [row(ORDERNUMBER="10601", QUANTITYORDERED="99999999999")]),
    read=2,
    loaded=1,
    rejected=1,
    reasons=("QUANTITYORDERED 99999999999 is above",),
)
case(
    name="a blank customer name and a blank product code",
    build=lambda p: lines(
        p, [row(ORDERNUMBER="10602", CUSTOMERNAME=" "), row(ORDERNUMBER="10603", PRODUCTCODE="")]
    ),
    read=2,
    loaded=0,
    rejected=2,
    reasons=("CUSTOMERNAME is empty", "PRODUCTCODE is empty"),
)
case(
    name="a date that does not exist (31 February)",
    build=lambda p: lines(p, [row(ORDERNUMBER="10604", ORDERDATE="2/31/2003 0:00")]),
    read=1,
    loaded=0,
    rejected=1,
    reasons=("ORDERDATE '2/31/2003 0:00' is not a date",),
)
case(
    name="a reject spanning several lines says which",
    build=lambda p: lines(p, [row(ORDERNUMBER="10605", ADDRESSLINE2="Floor 2\nBack door", STATUS="Lost")]),
    read=2,
    loaded=0,
    rejected=2,  # both physical lines are accounted for as rejected
    reasons=("the record spans lines 2-3",),
)
# ----------------------------------------------------------------------- 4. encoding evidence
case(
    name="Windows-1252 with typographic quotes and dashes",
    build=lambda p: lines(
        p,
        [
            row(ORDERNUMBER="10700", CUSTOMERNAME="Société “Modèles” – Frères", CITY="Nantes"),
            row(ORDERNUMBER="10701", CUSTOMERNAME="Société “Modèles” – Frères", CITY="Nantes"),
        ],
    ),
    detect=True,
    read=2,
    loaded=2,
    rejected=0,
    check=lambda c: (
        c.execute("SELECT company_name FROM customers").fetchall() == [("Société “Modèles” – Frères",)]
    ),
)
case(
    name="a Windows-1252 file with some UTF-8 lines",
    build=lambda p: raw_bytes(
        p,
        (header_line() + "\r\n" + csv_line(good(1)[0]) + "\r\n", "cp1252"),
        (csv_line(good(1, 10702)[0]) + "\r\n", "utf-8"),
    ),
    detect=True,
    read=2,
    loaded=2,
    rejected=0,
    extra={"utf8_lines": 1},
    check=lambda c: (
        c.execute("SELECT company_name, city FROM customers JOIN addresses USING (customer_id)").fetchall()
        == [("Berglunds snabbköp", "Luleå")]
    ),
)
# ----------------------------------------------------------------------- 6/12. a later export
case(
    name="a later export moves an order to another customer: applied and audited",
    before=lambda p: lines(p, [row(ORDERNUMBER="10800")]),
    build=lambda p: lines(p, [row(ORDERNUMBER="10800", ORDERLINENUMBER="2", CUSTOMERNAME="Other Co")]),
    read=1,
    loaded=1,
    rejected=0,
    check=lambda c: (
        one(
            c,
            "SELECT c.company_name FROM orders o JOIN customers c USING (customer_id) WHERE order_no = 10800",
        )
        == ("Other Co",)
        # the audit row: the order as changed, by which task
        and one(
            c,
            "SELECT a.operation, c.company_name, a.airflow_task_id FROM orders_audit a"
            " JOIN customers c USING (customer_id) WHERE a.order_no = 10800",
        )
        == ("U", "Other Co", "refresh_core")
        # the refresh reports it (its pipeline event, logged by the task)
        and one(
            c,
            "SELECT details #>> '{counts,orders,updated}' FROM pipeline_events WHERE step = 'refresh_core'"
            " ORDER BY event_id DESC LIMIT 1",
        )
        == ("1",)
        # and the earlier version is kept in the landing table
        and c.execute(
            "SELECT customername FROM raw_orders_csv WHERE ordernumber = 10800 ORDER BY raw_id"
        ).fetchall()
        == [("Berglunds snabbköp",), ("Other Co",)]
    ),
)
case(
    name="a later export with blank phone and contact keeps the known ones",
    before=lambda p: lines(p, [row(ORDERNUMBER="10801")]),
    build=lambda p: lines(p, [row(ORDERNUMBER="10802", PHONE="", CONTACTLASTNAME="", CONTACTFIRSTNAME="")]),
    read=1,
    loaded=1,
    rejected=0,
    check=lambda c: (
        c.execute("SELECT phone, contact_last_name, contact_first_name FROM customers").fetchall()
        == [("0921-12 3555", "Berglund", "Christina")]
    ),
)
case(
    name="a later export repeating earlier lines: those are duplicates, the new one loads",
    before=lambda p: lines(p, good(3)),
    build=lambda p: lines(p, good(4)),
    read=4,
    loaded=1,
    duplicate=3,
    rejected=0,
    check=lambda c: one(c, "SELECT count(*) FROM order_lines") == (4,),
)
case(
    name="HTML and a line break in a customer name are kept as data",
    build=lambda p: lines(p, [row(ORDERNUMBER="10900", CUSTOMERNAME="<script>alert(1)</script>\nAcme")]),
    read=2,
    loaded=2,
    rejected=0,
    check=lambda c: one(c, "SELECT customername FROM raw_orders_csv") == ("<script>alert(1)</script>\nAcme",),
)


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "careful"])
@pytest.mark.parametrize("c", CASES, ids=[c.name for c in CASES])
def test_hostile_case(c: Case, fast: bool, conn, tmp_path):
    if c.before is not None:
        earlier = ingest(conn, c.before(tmp_path / "earlier.csv"), use_fast_path=fast)
        assert earlier.rejected == 0
        refresh_core(conn)
    path = c.build(tmp_path / "export.csv")
    codec, mixed = c.codec, False
    if c.detect:
        choice = choose_encoding(path, None)
        codec, mixed = choice.codec, choice.mixed
        assert codec == c.codec, choice
    if c.error is not None:
        with pytest.raises(BadExportError, match=c.error) as exc:
            ingest(conn, path, codec, use_fast_path=fast, mixed=mixed)
        assert str(exc.value).strip(), "an error must say what is wrong"
        conn.rollback()
    else:
        counts = ingest(conn, path, codec, use_fast_path=fast, mixed=mixed)
        got = (counts.read, counts.loaded, counts.duplicate, counts.rejected)
        want = (c.read, c.loaded, c.duplicate, c.rejected)
        assert tuple(w if w is None else g for g, w in zip(got, want, strict=True)) == want, (
            got,
            counts.reasons,
        )
        assert counts.balanced()
        if "blank" in c.extra:
            assert counts.blank_lines == c.extra["blank"]
        if "utf8_lines" in c.extra:
            assert counts.utf8_lines == c.extra["utf8_lines"]
        reasons = [r for (r,) in conn.execute("SELECT reason FROM raw_orders_rejects ORDER BY source_line")]
        for want_reason in c.reasons:
            assert any(want_reason in r for r in reasons), (want_reason, reasons)
        refresh_core(conn)
        if c.check is not None:
            assert c.check(conn)
    # whatever came before, a clean file loads and refreshes
    clean = write_csv(tmp_path / "clean.csv", [row(ORDERNUMBER=str(CLEAN_ORDER), CUSTOMERNAME="Clean Co")])
    counts = ingest(conn, clean, "cp1252", use_fast_path=fast)
    assert (counts.read, counts.loaded) == (1, 1)
    refresh_core(conn)
    assert conn.execute(
        "SELECT count(*) FROM order_lines WHERE order_no = %s", (CLEAN_ORDER,)
    ).fetchone() == (1,)


# ----------------------------------------------------------------------- 14. runs racing on one file
def test_two_runs_racing_on_one_export_stage_it_once_and_keep_its_record(db_url, tmp_path):
    """Both registered the file before either staged it; the second waits on the ingest lock, then
    sees the file staged and skips: no re-staging as duplicates, the file's counts stay true."""
    import threading

    import psycopg

    from vehicle_sales.ingest.download import FetchedFile, fingerprint, register
    from vehicle_sales.ingest.staging import AlreadyStaged, stage_file

    path = write_csv(tmp_path / "race.csv", good(400))
    sha, size, n = fingerprint(path)
    with psycopg.connect(db_url) as c:
        file_id = register(c, FetchedFile(path, str(path), sha, size, n), n, "first").file_id
        assert register(c, FetchedFile(path, str(path), sha, size, n), n, "second").already_staged is False
    outcomes, barrier = [], threading.Barrier(2)

    def run():
        with psycopg.connect(db_url) as c:
            barrier.wait()
            try:
                outcomes.append(stage_file(c, path, file_id, "cp1252").loaded)
            except AlreadyStaged:
                outcomes.append("skipped")

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes, key=str) == [400, "skipped"]
    with psycopg.connect(db_url) as c:
        assert c.execute(
            "SELECT rows_read, rows_loaded, rows_duplicate, rows_rejected FROM source_files WHERE file_id = %s",
            (file_id,),
        ).fetchone() == (400, 400, 0, 0)
        assert c.execute("SELECT count(*) FROM raw_orders_csv").fetchone() == (400,)

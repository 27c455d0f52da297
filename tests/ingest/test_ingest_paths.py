"""The fast ways through ingestion give exactly what the careful ways give.

Staging streams rows that are valid as they stand straight into raw_orders_csv (PostgreSQL reads
the text), validates and converts the others in Python, and classifies rows of known orders or
repeated keys in SQL; large loads drop and re-create foreign keys around the insert. Each of these
is checked against the path it shortcuts, on a real PostgreSQL.
"""

from __future__ import annotations

import csv
import functools
import random
import time

import numpy as np
import psycopg
import pytest
from test_refresh_core import export_rows, state

from support import ingest, refresh_core, row, write_csv
from vehicle_sales.common.columns import COLUMNS
from vehicle_sales.common.sql import environment, render_template
from vehicle_sales.ingest import staging
from vehicle_sales.ingest.reader import CHUNK_BYTES, MAX_RECORD_BYTES, ChunkReader
from vehicle_sales.ingest.reference import load_reference_data
from vehicle_sales.ingest.rows import RowValidator
from vehicle_sales.ingest.screen import OrderHeaders, Screen
from vehicle_sales.ingest.staging import HeaderWatch, SeenKeys, open_export

RAW_VALUES = (
    "SELECT source_line, "
    + ", ".join(c.lower() for c in COLUMNS)
    + " FROM raw_orders_csv ORDER BY source_line"
)
FKS = (
    "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint"
    " WHERE contype IN ('f', 'p', 'u') UNION ALL SELECT tablename, indexname, indexdef FROM pg_indexes"
    " WHERE schemaname = 'public' ORDER BY 1, 2, 3"
)

# rows that need the careful path next to rows that do not
VARIED = [
    row(ORDERLINENUMBER="1"),
    row(ORDERLINENUMBER="2", STATUS="shipped", DEALSIZE="SMALL"),  # canonical case
    row(ORDERLINENUMBER="3", CITY="  Luleå ", ADDRESSLINE2="  "),  # padding, blank
    row(ORDERLINENUMBER="4", QUANTITYORDERED="+7", PRICEEACH="95.7"),  # sign, short decimal
    # (other dates: other orders -- the lines of one order agree on its date)
    row(ORDERLINENUMBER="5", ORDERNUMBER="10111", ORDERDATE="2003-02-25"),  # ISO date
    row(ORDERLINENUMBER="6", ORDERNUMBER="10112", ORDERDATE="12/31/2004 13:05"),  # time of day
    row(ORDERLINENUMBER="7", ORDERNUMBER="10113", ORDERDATE="2003-02-24T10:30:00Z"),  # ISO timestamp
    row(
        ORDERLINENUMBER="8",
        ORDERNUMBER="10114",
        ADDRESSLINE1="2,rue du Commerce",
        CUSTOMERNAME='The "Big" Shop',
    ),  # quoting
    row(ORDERLINENUMBER="9", SALES="", MSRP="", QTR_ID="", MONTH_ID="", YEAR_ID=""),
    row(ORDERLINENUMBER="10", QUANTITYORDERED="007", PRICEEACH=".50", SALES="3."),
    row(ORDERLINENUMBER="11", PHONE="\u00a0+46 921 12 3555\u00a0"),  # no-break spaces
    row(ORDERLINENUMBER="12", CONTACTLASTNAME="Berglund\tJr"),  # a tab inside
    row(ORDERLINENUMBER="13", ORDERNUMBER="010101"),  # leading zero
    row(ORDERLINENUMBER="14", ADDRESSLINE1="2, rue du Commerce"),  # ', ': maybe padding
]


def screened_lines(path, codec="cp1252") -> list[int]:
    """The line numbers the fast path's gate passes, for a whole small file."""
    export = open_export(path, codec)
    screen = Screen(codec, export.positions, export.n_fields, RowValidator())
    with ChunkReader(path, export.header.data_offset) as reader:
        chunk = reader.read()
    result = screen(chunk.data, chunk.lines)
    return [chunk.first_line + int(k) for k in np.flatnonzero(result.ok)]


def test_the_gate_passes_only_lines_postgres_reads_as_the_rules_would(tmp_path):
    path = write_csv(
        tmp_path / "a.csv", VARIED + [row(ORDERLINENUMBER="15", ADDRESSLINE1="2,rue du Commerce")]
    )
    # numbers PostgreSQL reads to the same value (+7, 007), ISO and M/D/YYYY H:MM dates and fields
    # quoted around a comma (', ' inside quotes is not padding) go as they stand; anything to strip,
    # recase, convert, unquote or doubt does not, nor does a line without SALES (the rules bound the
    # QUANTITYORDERED x PRICEEACH the refresh computes for it) (lines are data rows + 1)
    assert screened_lines(path) == [2, 5, 6, 7, 15, 16]


def test_fast_and_careful_paths_store_identical_values(fresh_db_factory, tmp_path):
    """The same rows through the fast path where possible, through the careful path only, and with
    the columns reversed, land identically."""
    a, b, c = fresh_db_factory(), fresh_db_factory(), fresh_db_factory()
    path = write_csv(tmp_path / "a.csv", VARIED)
    with psycopg.connect(a) as conn:
        counts = ingest(conn, path)
        assert (counts.read, counts.loaded, counts.rejected) == (14, 14, 0) and counts.direct == 5
        fast = conn.execute(RAW_VALUES).fetchall()
    with psycopg.connect(b) as conn:
        assert ingest(conn, path, use_fast_path=False).direct == 0
        careful = conn.execute(RAW_VALUES).fetchall()
    reversed_cols = list(reversed(COLUMNS))
    with open(tmp_path / "b.csv", "w", encoding="cp1252", newline="") as fh:
        w = csv.writer(fh, lineterminator="\r\n")
        w.writerow(reversed_cols)
        for r in VARIED:
            w.writerow(list(reversed(r)))
    with psycopg.connect(c) as conn:
        ingest(conn, tmp_path / "b.csv")
        reordered = conn.execute(RAW_VALUES).fetchall()
    assert fast == careful == reordered
    city = {r[0]: r[COLUMNS.index("CITY") + 1] for r in fast}
    assert city[4] == "Luleå"  # stripped on both paths


def mutations(seed: int, n: int) -> list[list[str]]:
    """``n`` rows, each the good row with a few fields changed at random to the kinds of text that
    exports hold and the rules have an opinion on."""
    rng = random.Random(seed)
    texts = {
        "ORDERNUMBER": ["10100", "010100", "+10100", "10100.0", "", "9999999999", "-5", "10 100"],
        "ORDERLINENUMBER": ["1", "01", "32767", "32768", "0", "x", " 2"],
        "QUANTITYORDERED": ["30", "+30", "030", "-1", "30.0", "", " 30", "2000000001"],
        "PRICEEACH": ["95.70", "95.7", "95.", ".5", "95,70", "100000000.00", "95.705", "0095.70", "-0.0", ""],
        "SALES": ["2871.00", "", "2871", "1e3", "12345678901.00", "2871.001"],
        "ORDERDATE": [
            "2/24/2003 0:00",
            "2003-02-24",
            "12/31/2004 13:05",
            "13/1/2003",
            "2/30/2003",
            "2003-02-24T10:30:00Z",
            "24.2.2003",
            "2/24/2003 24:00",
            "1/1/1899",
        ],
        "STATUS": ["Shipped", "shipped", "SHIPPED", "Lost", "In Process", "  Resolved"],
        "QTR_ID": ["1", "5", "", "01", "1.0"],
        "MSRP": ["95", "95.50", "", "x", "123456789"],
        "DEALSIZE": ["Small", "small", "Huge", "Medium"],
        "CUSTOMERNAME": [
            "Berglunds snabbköp",
            " Padded Co ",
            "Comma, Inc.",
            'The "Big" Shop',
            "",
            "Ångström\u00a0AB",
            "Zero\u200bWidth",
            "x" * 256,
        ],
        "ADDRESSLINE1": ["Berguvsvägen 8", "2,rue du Commerce", "Line\twith tab", "  "],
        "PHONE": ["0921-12 3555", "", "\u00a0+46"],
        "PRODUCTCODE": ["S10_1678", "S" * 21, "", " S10_1678"],
    }
    rows = []
    for i in range(n):
        changes = {c: rng.choice(v) for c, v in rng.sample(sorted(texts.items()), rng.randint(0, 3))}
        changes.setdefault("ORDERNUMBER", str(20000 + i // 3))
        changes.setdefault("ORDERLINENUMBER", str(1 + i % 3))
        rows.append(row(**changes))
    return rows


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"])
def test_random_rows_land_alike_on_the_fast_and_the_careful_path(fresh_db_factory, tmp_path, encoding):
    """A differential test: 1,500 rows mutated at random (bad values, padding, quoting, invisible
    characters, repeats) give the same raw rows, rejects and counts whichever path each line takes."""
    rows = mutations(7, 1500)
    if encoding == "cp1252":  # no zero-width space in Windows-1252: a soft hyphen instead
        rows = [[f.replace("\u200b", "\u00ad") for f in r] for r in rows]
    path = write_csv(tmp_path / "random.csv", rows, encoding=encoding)
    results = []
    for fast in (True, False):
        url = fresh_db_factory()
        with psycopg.connect(url) as conn:
            counts = ingest(conn, path, codec=encoding, use_fast_path=fast)
            results.append(
                (
                    (counts.read, counts.loaded, counts.duplicate, counts.rejected),
                    conn.execute(RAW_VALUES).fetchall(),
                    conn.execute(
                        "SELECT source_line, reason, raw_text, conflicting_text FROM raw_orders_rejects"
                        " ORDER BY source_line, reason"
                    ).fetchall(),
                    conn.execute(
                        "SELECT raw_id - (SELECT min(raw_id) FROM raw_orders_csv), source_line"
                        " FROM raw_orders_csv ORDER BY raw_id"
                    ).fetchall(),
                )
            )
            if fast:
                assert counts.direct > 300, counts  # the gate let many through
    assert results[0] == results[1]


def test_the_gate_decides_alike_whether_it_remembers_earlier_chunks_or_not(tmp_path):
    """One Screen keeps its verdict on each low-cardinality text across the chunks of a file; a
    fresh Screen per chunk starts from nothing: both pass exactly the same lines, and the screen
    counts the lines that end in CR (a file mixing CR LF and LF line breaks)."""
    rows = mutations(11, 900)
    path = write_csv(tmp_path / "random.csv", rows, encoding="utf-8")
    text = path.read_bytes().split(b"\n")
    mixed = tmp_path / "mixed.csv"  # every third line loses its CR
    mixed.write_bytes(
        b"\n".join(x[:-1] if i % 3 == 1 and x.endswith(b"\r") else x for i, x in enumerate(text))
    )
    export = open_export(mixed, "utf-8")
    kept = Screen("utf-8", export.positions, export.n_fields, RowValidator())
    verdicts = {}
    with ChunkReader(mixed, export.header.data_offset, chunk_bytes=16 << 10) as reader:
        for chunk in reader:
            fresh = Screen("utf-8", export.positions, export.n_fields, RowValidator())
            a, b = kept(chunk.data, chunk.lines), fresh(chunk.data, chunk.lines)
            assert a.ok.tolist() == b.ok.tolist()
            assert a.orders.tolist() == b.orders.tolist() and a.cr_lines == b.cr_lines
            assert a.cr_lines == sum(x.endswith(b"\r") for x in chunk.lines)
            verdicts[chunk.first_line] = a
    assert len(verdicts) > 5  # many chunks
    assert 0 < sum(v.cr_lines for v in verdicts.values()) < sum(v.ok.size for v in verdicts.values())
    assert sum(int(v.ok.sum()) for v in verdicts.values()) > 200  # the gate let many through
    assert any(kept._run_verdicts.values())  # and remembered texts on the way


def test_header_watch_leaves_out_only_orders_whose_direct_lines_all_agree():
    """HeaderWatch, alone: an order is a suspect when its lines' header texts differ within a chunk
    or across chunks, when a header field was too long to compare, or when a line of it took the
    careful way; past its limit, every order is checked (None)."""

    def chunk(*lines, fit=None):
        """A chunk of lines "date,status,customer" and their OrderHeaders, as the Screen gives them."""
        data = "\n".join(lines).encode()
        starts, lens, offset = [], [], 0
        for line in lines:
            fields, pos = line.split(","), offset
            starts.append([]), lens.append([])
            for f in fields:
                starts[-1].append(pos), lens[-1].append(len(f))
                pos += len(f) + 1
            offset += len(line) + 1
        starts, lens = np.array(starts), np.array(lens)
        a = np.frombuffer(data + bytes(64), dtype=np.uint8)
        width = 8 * -(-int(lens.max()) // 8)
        cells = [
            np.array(
                [
                    a[s : s + width] * (np.arange(width) < n)
                    for s, n in zip(starts[:, j], lens[:, j], strict=True)
                ]
            )
            for j in range(3)
        ]
        rows = np.ascontiguousarray(np.concatenate([*cells, np.pad(lens, ((0, 0), (0, 5)))], axis=1))
        ok = np.ones(len(lines), dtype=bool) if fit is None else np.array(fit)
        return OrderHeaders(rows.astype(np.uint8).view(np.uint64), ok)

    watch = HeaderWatch(limit=10)
    h = chunk("1/1/2003,Shipped,A", "1/1/2003,Shipped,B", "1/1/2003,Shipped,A", "1/2/2003,Shipped,C")
    watch.add(np.array([1, 2, 1, 3]), h)  # chunk 1: every order agrees with itself
    assert watch.orders() == []
    h = chunk("1/1/2003,Shipped,D", "1/1/2003,Shipped,Dx", "1/1/2003,Shipped,F")
    watch.add(np.array([4, 4, 5]), h)  # 4 differs within the chunk (a longer name)
    h = chunk("1/1/2003,Shipped,A", "1/1/2003,Cancelled,B")
    watch.add(np.array([1, 2]), h)  # 2 differs from its line in chunk 1 (wider fields here)
    h = chunk("1/1/2003,Shipped,G", "1/1/2003,Shipped,G", fit=[True, False])
    watch.add(np.array([6, 6]), h)  # a field too long to compare
    watch.mark([3])  # a line of order 3 went the careful way
    assert watch.orders() == [2, 3, 4, 6]
    watch.mark(range(100, 107))
    assert watch.orders() is None  # 11 suspects > 10: check them all


def test_seen_keys_answer_alike_for_sorted_and_unsorted_chunks():
    """SeenKeys, alone: while chunks arrive in ascending key order nothing is looked up; a chunk
    that goes back (or overlaps) is answered from everything seen before, as a plain set would."""
    rng = np.random.default_rng(3)
    sorted_chunks = [np.arange(100 * i, 100 * i + 100) for i in range(5)]
    later = [rng.integers(0, 700, 50), np.array([450, 450, 1000]), rng.integers(0, 1200, 80)]
    keys, truth = SeenKeys(), set()
    for chunk in sorted_chunks + later:
        expected = [int(k) not in truth for k in chunk]
        assert keys.remember(chunk).tolist() == expected
        truth.update(int(k) for k in chunk)
    assert keys._set == truth  # switched to a set at the first chunk that went back
    fresh = SeenKeys()
    assert fresh.remember(np.array([5, 3])).tolist() == [True, True]
    assert fresh.remember(np.array([4, 9])).tolist() == [True, True]  # 4 < 5: looked up, not seen
    assert fresh.remember(np.array([9, 10])).tolist() == [False, True]


def test_header_conflicts_are_found_across_chunks_and_past_the_compared_bytes(
    fresh_db_factory, tmp_path, monkeypatch
):
    """Lines of one order that disagree on the header in different chunks of the file, or beyond
    the bytes the fast path compares (a long customer name), are rejected as on the careful path;
    lines that agree load."""
    long_name = "Long Name Trading " * 9  # 162 characters: past HEADER_WIDTHS
    rows_ = [row(ORDERNUMBER=str(12000 + i), ORDERLINENUMBER="1") for i in range(300)]
    rows_ += [
        row(ORDERNUMBER="12000", ORDERLINENUMBER="2", STATUS="Cancelled"),  # chunks away from line 1
        row(ORDERNUMBER="12001", ORDERLINENUMBER="2"),  # agrees
        row(ORDERNUMBER="12500", ORDERLINENUMBER="1", CUSTOMERNAME=long_name + "A"),
        row(ORDERNUMBER="12500", ORDERLINENUMBER="2", CUSTOMERNAME=long_name + "B"),
        row(ORDERNUMBER="12501", ORDERLINENUMBER="1", CUSTOMERNAME=long_name),
        row(ORDERNUMBER="12501", ORDERLINENUMBER="2", CUSTOMERNAME=long_name),
    ]
    path = write_csv(tmp_path / "a.csv", rows_)
    small_chunks = functools.partial(ChunkReader, chunk_bytes=4 << 10)
    results = []
    for fast in (True, False):
        with monkeypatch.context() as m, psycopg.connect(fresh_db_factory()) as conn:
            m.setattr(staging, "ChunkReader", small_chunks)
            counts = ingest(conn, path, use_fast_path=fast)
            results.append(
                (
                    (counts.read, counts.loaded, counts.rejected),
                    conn.execute(
                        "SELECT source_line, reason FROM raw_orders_rejects ORDER BY source_line"
                    ).fetchall(),
                )
            )
            if fast:
                assert counts.direct > 300
    assert results[0] == results[1]
    assert results[0][0] == (306, 304, 2)
    assert [r[0] for r in results[0][1]] == [302, 305]


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


def test_bulk_path_gives_the_same_tables_and_restores_every_key_index_and_foreign_key(
    fresh_db_factory, tmp_path
):
    plain, bulk = fresh_db_factory(), fresh_db_factory()
    with psycopg.connect(plain) as c:
        before = c.execute(FKS).fetchall()
    assert _load(plain, tmp_path, None) == before
    assert _load(bulk, tmp_path, 1) == before  # every row took the bulk path here
    assert state(bulk) == state(plain)


def bulk_macro(call: str) -> str:
    """One macro of sql/common/bulk_load.sql, rendered."""
    return (
        environment()
        .from_string("{% import 'common/bulk_load.sql' as bulk %}{{ bulk." + call + " }}")
        .render()
    )


def test_a_load_takes_the_bulk_path_from_a_twelfth_of_its_tables_and_its_refresh_agrees(
    fresh_db_factory, tmp_path, monkeypatch
):
    """Re-creating a foreign key reads the whole table: a load of at least the threshold but under a
    twelfth of the warehouse keeps every key and is checked row by row (its staging restores nothing,
    its refresh drops nothing and plans for a small delta), while one from a twelfth takes the bulk
    path in both. The refresh decides once for both: a delta planned as large while its foreign keys
    stay would plan each kept key's check as a scan of the whole referenced table (321 s for 60,000
    lines on a 1,000,000-line warehouse when the two disagreed)."""
    from devtools.sample_data import write_csv as write_sample

    scripts: list[str] = []
    run = staging.sql.run
    monkeypatch.setattr(
        staging.sql, "run", lambda conn, name, *a, **k: scripts.append(name) or run(conn, name, *a, **k)
    )
    keys = (
        "SELECT conrelid::regclass::text, conname, oid FROM pg_constraint"
        " WHERE contype IN ('f', 'p', 'u') ORDER BY 1, 2"
    )
    url = fresh_db_factory()
    with psycopg.connect(url) as c:
        c.execute("SELECT set_config('vehicle_sales.bulk_threshold', '50', false)")
        load_reference_data(c)
        assert (
            ingest(c, write_sample(tmp_path / "warehouse.csv", n_lines=3000, seed=3, n_customers=300)).loaded
            == 3000
        )
        refresh_core(c)
        c.commit()
        c.execute("ANALYZE")  # as autovacuum would have by now
        c.commit()

        def load(name: str, lines: int, first_order: int) -> tuple[bool, bool, bool]:
            """Whether staging restored anything, whether the refresh planned a large delta, and
            whether every key is the one it was (none dropped and re-created)."""
            before = c.execute(keys).fetchall()
            scripts.clear()
            path = write_sample(
                tmp_path / name, n_lines=lines, seed=5, n_customers=300, first_order_number=first_order
            )
            counts = ingest(c, path)
            assert (counts.read, counts.loaded) == (lines, lines)
            c.execute(render_template("ingest/refresh_core.sql", task_id="refresh_core"))
            c.commit()
            large = c.execute(
                "SELECT (details ->> 'bulk')::boolean FROM pipeline_events WHERE step = 'refresh_core'"
                " ORDER BY event_id DESC LIMIT 1"
            ).fetchone()[0]
            return "ingest/stage_restore.sql" in scripts, large, c.execute(keys).fetchall() == before

        # 200 lines: over the threshold, under a twelfth of 3,000
        assert load("mid.csv", 200, 50_000) == (False, False, True)
        # 300 lines: a twelfth of 3,200 is 267
        assert load("large.csv", 300, 60_000) == (True, True, False)
        assert c.execute("SELECT count(*) FROM order_lines").fetchone()[0] == 3500
    assert _foreign_keys(url) == _foreign_keys(fresh_db_factory())  # all restored as they were


def _foreign_keys(url: str) -> list[tuple]:
    with psycopg.connect(url) as c:
        return c.execute(FKS).fetchall()


def test_bulk_path_still_refuses_an_orphan(conn):
    conn.execute(bulk_macro("drop_constraints(['order_lines'], 50000)"))
    conn.execute("INSERT INTO order_lines (order_no, line_no, product_code) VALUES (999, 1, 'nope')")
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        conn.execute(bulk_macro("restore_constraints()"))
    conn.rollback()
    assert conn.execute("SELECT count(*) FROM order_lines").fetchone()[0] == 0
    assert len(conn.execute(FKS + "").fetchall()) > 0


def test_a_bulk_refresh_after_the_core_tables_were_vacuumed_empty_is_not_quadratic(
    fresh_db_factory, tmp_path
):
    """When a failed load is rolled back, autovacuum finds the core tables empty and records that
    they hold 0 rows. The retry fills them in one transaction: planning on "0 rows", a nested loop
    rescans a table for every row the statement adds to it (quadratic: the order lines of 100,000
    lines did not finish in a minute, the addresses took 53 s instead of 0.07 s). Measured by the
    heap blocks the refresh touches in each table, not by time: about one per row written plus a
    few passes, never a pass per row."""
    from devtools.sample_data import write_csv as write_sample

    url = fresh_db_factory()
    path = write_sample(tmp_path / "orders.csv", n_lines=3000, seed=3, n_customers=300)
    with psycopg.connect(url) as c:
        c.execute("SELECT set_config('vehicle_sales.bulk_threshold', '1000', false)")  # a large delta
        load_reference_data(c)
        c.commit()
        ingest(c, path)
        with psycopg.connect(url, autocommit=True) as v:  # the core tables are empty, as after a rollback
            v.execute("VACUUM customers, addresses, products, orders, order_lines")
        c.execute(render_template("ingest/refresh_core.sql", task_id="refresh_core"))
        touched = {
            table: (blocks, rows, pages)
            for table, blocks, rows, pages in c.execute(
                "SELECT relname, pg_stat_get_xact_blocks_fetched(oid), pg_stat_get_xact_tuples_inserted(oid),"
                "       pg_relation_size(oid) / 8192"
                " FROM pg_class WHERE relname IN ('customers', 'addresses', 'orders', 'order_lines')"
            ).fetchall()
        }
        c.commit()
    assert touched["order_lines"][1] == 3000
    for table, (blocks, rows, pages) in touched.items():
        assert blocks <= 3 * rows + 20 * pages, (table, touched)


def test_a_bulk_load_counts_its_rows_for_the_planner_and_leaves_the_full_analysis_to_autovacuum(
    fresh_db_factory, tmp_path
):
    """The bulk path's coarse ANALYZE: the planner knows how many rows raw_orders_csv and the core
    tables hold as soon as the load commits, with statistics on the columns the next statements join
    on, and nothing more (a full ANALYZE of 28 columns cost three times as much); autovacuum still owes
    each table its full analysis (a partial one leaves the count of changes as it was)."""
    from devtools.sample_data import write_csv as write_sample

    url = fresh_db_factory()
    path = write_sample(tmp_path / "orders.csv", n_lines=3000, seed=3, n_customers=300)
    tables = ("raw_orders_csv", "customers", "addresses")
    with psycopg.connect(url) as c:
        for table in tables:  # (not in this test's few seconds: it would analyse every column)
            c.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
        c.execute("SELECT set_config('vehicle_sales.bulk_threshold', '1000', false)")
        load_reference_data(c)
        assert ingest(c, path).loaded == 3000
        refresh_core(c)
        c.execute("SELECT pg_stat_force_next_flush()")
        c.commit()
    with psycopg.connect(url, autocommit=True) as c:
        held = {t: c.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}
        rows = dict(
            c.execute(
                "SELECT relname::text, reltuples::bigint FROM pg_class WHERE relname = ANY(%s)",
                (list(tables),),
            ).fetchall()
        )
        analysed = {
            t: {a for (a,) in c.execute("SELECT attname FROM pg_stats WHERE tablename = %s", (t,))}
            for t in tables
        }
        changes = {}
        for _ in range(40):  # the statistics of the loading session reach the others when it is idle
            c.execute("SELECT pg_stat_clear_snapshot()")
            changes = dict(
                c.execute(
                    "SELECT relname::text, n_mod_since_analyze FROM pg_stat_user_tables WHERE relname = ANY(%s)",
                    (list(tables),),
                ).fetchall()
            )
            if all(changes.get(t) for t in tables):
                break
            time.sleep(0.1)
    assert held["raw_orders_csv"] == 3000 and held["customers"] > 200
    assert rows == held
    assert analysed == {
        "raw_orders_csv": {
            "raw_id",
            "source_file_id",
            "ordernumber",
            "orderlinenumber",
            "customername",
            "productcode",
        },
        "customers": {"customer_id", "company_name"},
        "addresses": {"address_id", "customer_id", "source_key"},
    }
    assert changes == held


@pytest.mark.parametrize("chunk_bytes", [None, 4 << 10], ids=["one chunk", "4 KB chunks"])
def test_a_small_file_into_a_larger_warehouse_looks_its_orders_up_by_index(
    conn, tmp_path, monkeypatch, chunk_bytes
):
    """When raw_orders_csv holds more than the file, the orders already loaded are asked per chunk
    through the index: the first chunk's on the file's own connection before its COPY opens, the
    next ones' on a second connection (opened only for a file of more than one chunk). The verdicts
    are those of a full read, in the first chunk and in the later ones."""
    first = [row(ORDERNUMBER=str(10100 + i // 3), ORDERLINENUMBER=str(1 + i % 3)) for i in range(150)]
    ingest(conn, write_csv(tmp_path / "a.csv", first))
    conn.execute("ANALYZE raw_orders_csv")
    conn.commit()
    known = [
        row(ORDERNUMBER="10100", ORDERLINENUMBER="1"),  # loaded, same values: duplicate
        row(ORDERNUMBER="10101", ORDERLINENUMBER="2", QUANTITYORDERED="99"),  # loaded, other values: conflict
        row(ORDERNUMBER="10101", ORDERLINENUMBER="9"),  # a new line of a loaded order
    ]
    new = [row(ORDERNUMBER=str(20000 + i), ORDERLINENUMBER="1") for i in range(40)]  # straight in
    later_known = [
        row(ORDERNUMBER="10102", ORDERLINENUMBER="3"),  # duplicate, chunks later
        row(ORDERNUMBER="10103", ORDERLINENUMBER="1", QUANTITYORDERED="98"),  # conflict, chunks later
    ]
    if chunk_bytes:
        monkeypatch.setattr(staging, "ChunkReader", functools.partial(ChunkReader, chunk_bytes=chunk_bytes))
    connects = []
    connect = psycopg.connect
    monkeypatch.setattr(psycopg, "connect", lambda *a, **k: connects.append(a) or connect(*a, **k))
    counts = ingest(conn, write_csv(tmp_path / "b.csv", known + new + later_known))
    assert (counts.read, counts.loaded, counts.duplicate, counts.rejected, counts.direct) == (
        45,
        41,
        2,
        2,
        40,
    )
    assert len(connects) == (1 if chunk_bytes else 0)
    raw_id = "SELECT raw_id FROM raw_orders_csv WHERE ordernumber = %s AND orderlinenumber = %s ORDER BY raw_id LIMIT 1"
    reasons = [r[0] for r in conn.execute("SELECT reason FROM raw_orders_rejects ORDER BY source_line")]
    assert reasons == [
        f"conflicting duplicate: order {o} line {n} is already loaded (raw_id"
        f" {conn.execute(raw_id, (o, n)).fetchone()[0]}) with different values"
        for o, n in ((10101, 2), (10103, 1))
    ]


def test_mixed_line_endings_land_as_the_careful_path_lands_them(fresh_db_factory, tmp_path):
    """CR LF and LF lines in one file (and a chunk of each): COPY is given one line ending style."""
    lines = [",".join(r) for r in VARIED + mutations(3, 60)]
    text = ",".join(COLUMNS) + "\r\n" + "".join(x + ("\r\n" if i % 3 else "\n") for i, x in enumerate(lines))
    path = tmp_path / "mixed.csv"
    path.write_bytes(text.encode("utf-8"))
    got = []
    for fast in (True, False):
        with psycopg.connect(fresh_db_factory()) as conn:
            counts = ingest(conn, path, codec="utf-8", use_fast_path=fast)
            got.append(((counts.read, counts.loaded, counts.rejected), conn.execute(RAW_VALUES).fetchall()))
            assert counts.direct >= 15 if fast else counts.direct == 0, counts
    assert got[0] == got[1] and got[0][0][1] > 30


@pytest.mark.parametrize("chunk_bytes", [None, 4 << 10], ids=["CHUNK_BYTES", "4 KB chunks"])
def test_records_longer_than_a_chunk_land_as_they_do_in_one_chunk(
    fresh_db_factory, tmp_path, monkeypatch, chunk_bytes
):
    """A quoted field may hold line breaks, and its record may be longer than a chunk (up to
    MAX_RECORD_BYTES): the router gives the open record back and reads it again with the next block.
    The same file routed in chunks (the default size, or 4 KB) and in one chunk of 8 MB: the same
    counts, rejects with their reasons, and rows."""
    line = "x" * 9_000
    long_field = "\n".join([line] * 80)  # one record of 80 lines, 720 KB: longer than a chunk
    too_long = "\n".join([line] * 99) + "\n" + "x" * 200_000  # 1.09 MB: over MAX_RECORD_BYTES
    assert CHUNK_BYTES < len(long_field) < MAX_RECORD_BYTES < len(too_long)
    rows_ = [row(ORDERNUMBER=str(13000 + i), ORDERLINENUMBER="1") for i in range(40)]
    rows_.append(row(ORDERNUMBER="13100", ORDERLINENUMBER="1", ADDRESSLINE2=long_field))
    rows_.append(row(ORDERNUMBER="13101", ORDERLINENUMBER="1", ADDRESSLINE2="Suite 4\nFloor 2"))
    rows_ += [row(ORDERNUMBER=str(13200 + i), ORDERLINENUMBER="1") for i in range(40)]
    rows_.append(row(ORDERNUMBER="13300", ORDERLINENUMBER="1", ADDRESSLINE2=too_long))
    rows_ += [row(ORDERNUMBER=str(13400 + i), ORDERLINENUMBER="1") for i in range(40)]
    path = write_csv(tmp_path / "long.csv", rows_)
    got = []
    for size in (chunk_bytes, 8 << 20):
        with monkeypatch.context() as m, psycopg.connect(fresh_db_factory()) as conn:
            if size is not None:
                m.setattr(staging, "ChunkReader", functools.partial(ChunkReader, chunk_bytes=size))
            counts = ingest(conn, path)
            assert counts.balanced(), counts.summary()
            got.append(
                (
                    (counts.read, counts.loaded, counts.duplicate, counts.rejected, counts.multiline_records),
                    conn.execute(
                        "SELECT source_line, reason FROM raw_orders_rejects ORDER BY source_line"
                    ).fetchall(),
                    conn.execute(RAW_VALUES).fetchall(),
                )
            )
    assert got[0] == got[1]
    (read, loaded, _, rejected, multiline), rejects, _ = got[0]
    # lines 2-41 plain, 42-121 the long record, 122-123 the two-line address, 124-163 plain,
    # 164-263 the record over the limit (each line then stands alone), 264-303 plain
    assert (read, loaded, rejected, multiline) == (302, 40 + 2 + 40 + 40, 80 + 100, 2)
    assert rejects[0] == (
        42,
        "ADDRESSLINE2 is 720079 characters long (limit 255) (the record spans lines 42-121)",
    )
    assert [source_line for source_line, _ in rejects[1:]] == list(range(164, 264))


def test_a_bulk_file_into_a_larger_warehouse_does_not_wait_on_itself(fresh_db_factory, tmp_path):
    """A file large enough for the bulk path, into a warehouse already larger than it: the bulk path
    drops raw_orders_csv's foreign key (an exclusive lock until the commit), so the orders already
    loaded must not be looked up on a second connection while the file streams in (that lookup would
    wait for this transaction, which waits for it: a hang, found with a 60,000-line file on a
    1,000,000-line warehouse). The file loads, and an order already loaded is still classified."""
    import threading

    url = fresh_db_factory()
    first = [row(ORDERNUMBER=str(10100 + i), ORDERLINENUMBER="1") for i in range(10)]
    second = [row(ORDERNUMBER=str(10200 + i), ORDERLINENUMBER="1") for i in range(4)]
    second.append(row(ORDERNUMBER="10100", ORDERLINENUMBER="2"))  # an order already loaded
    outcome: dict = {}

    def load() -> None:
        try:
            with psycopg.connect(url) as c:
                c.execute("SELECT set_config('vehicle_sales.bulk_threshold', '3', false)")
                ingest(c, write_csv(tmp_path / "first.csv", first))
                c.execute("ANALYZE raw_orders_csv")  # the planner's count: 10 rows, more than the file
                c.commit()
                outcome["counts"] = ingest(c, write_csv(tmp_path / "second.csv", second))
        except Exception as exc:  # noqa: BLE001 - reported below
            outcome["error"] = exc

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    worker.join(60)
    if worker.is_alive():  # unblock the sessions before failing
        with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (url.rsplit("/", 1)[1],),
            )
        worker.join(30)
        pytest.fail("staging waited on its own lock: the file never loaded")
    assert "error" not in outcome, outcome.get("error")
    c = outcome["counts"]
    assert (c.read, c.loaded, c.duplicate, c.rejected) == (5, 5, 0, 0)
    assert c.direct == 4 and c.classified == 1  # the known order went through classification


def test_a_file_that_goes_straight_in_skips_what_has_nothing_to_do(conn, tmp_path, monkeypatch):
    """A file whose every line goes straight in (new keys, one header per order) needs no working
    tables, no classification and no header check; a file with one line to classify and one order
    whose lines disagree runs them all. The counts balance either way."""
    scripts: list[str] = []
    run = staging.sql.run
    monkeypatch.setattr(
        staging.sql, "run", lambda conn, name, *a, **k: scripts.append(name) or run(conn, name, *a, **k)
    )
    clean = [row(ORDERNUMBER=str(30000 + i // 2), ORDERLINENUMBER=str(1 + i % 2)) for i in range(20)]
    counts = ingest(conn, write_csv(tmp_path / "clean.csv", clean))
    assert (counts.read, counts.loaded, counts.direct, counts.rejected) == (20, 20, 20, 0)
    skipped = {"ingest/stage_tables.sql", "ingest/stage_load.sql", "ingest/stage_order_headers.sql"}
    assert not skipped & set(scripts)
    assert not conn.execute("SELECT count(*) FROM raw_orders_rejects").fetchone()[0]

    scripts.clear()
    odd = [
        row(ORDERNUMBER="30000", ORDERLINENUMBER="1"),  # already loaded, same values: a duplicate
        row(ORDERNUMBER="30100", ORDERLINENUMBER="1"),
        row(ORDERNUMBER="30100", ORDERLINENUMBER="2", STATUS="Cancelled"),  # disagrees with line 1
    ]
    counts = ingest(conn, write_csv(tmp_path / "odd.csv", odd))
    assert (counts.read, counts.loaded, counts.duplicate, counts.rejected) == (3, 1, 1, 1)
    assert skipped <= set(scripts)

    # every line straight in, but one order's lines disagree: the header check alone, its reject
    # counted and kept with its text
    scripts.clear()
    split = [
        row(ORDERNUMBER="30200", ORDERLINENUMBER="1"),
        row(ORDERNUMBER="30200", ORDERLINENUMBER="2", STATUS="Cancelled"),
    ]
    counts = ingest(conn, write_csv(tmp_path / "split.csv", split))
    assert (counts.read, counts.loaded, counts.duplicate, counts.rejected, counts.direct) == (2, 1, 0, 1, 2)
    assert "ingest/stage_order_headers.sql" in scripts
    assert not {"ingest/stage_tables.sql", "ingest/stage_load.sql"} & set(scripts)
    reason, text = conn.execute(
        "SELECT reason, raw_text FROM raw_orders_rejects WHERE ordernumber = '30200'"
    ).fetchone()
    assert reason.startswith("conflicting order header: order 30200 line 2") and "Cancelled" in text

    # a clean file on the bulk path: no classification, but what the bulk path dropped is restored
    scripts.clear()
    conn.execute("SELECT set_config('vehicle_sales.bulk_threshold', '5', false)")
    bulk = [row(ORDERNUMBER=str(30300 + i), ORDERLINENUMBER="1") for i in range(30)]
    counts = ingest(conn, write_csv(tmp_path / "bulk.csv", bulk))
    assert (counts.read, counts.loaded, counts.direct, counts.rejected) == (30, 30, 30, 0)
    assert "ingest/stage_restore.sql" in scripts and not skipped & set(scripts)
    constraints = conn.execute(
        "SELECT count(*) FROM pg_constraint WHERE conrelid = 'raw_orders_csv'::regclass"
    ).fetchone()[0]
    assert constraints == 3  # the key, the unique key, the file's foreign key: all back

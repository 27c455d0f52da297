"""Staging on a real PostgreSQL: the bad-input corpus gives a clear error or quarantined rows with
reasons, never a half-loaded database, and every row read is accounted for."""

from __future__ import annotations

import codecs

import pytest

from support import GOOD, ingest, row, table_counts, write_csv
from vehicle_sales.common.columns import COLUMNS
from vehicle_sales.common.errors import BadExportError


def rejects(conn):
    return conn.execute(
        "SELECT source_line, reason, raw_text, conflicting_raw_id, conflicting_text"
        " FROM raw_orders_rejects ORDER BY source_line"
    ).fetchall()


def test_good_file_loads_every_row_and_keeps_non_ascii_intact(conn, tmp_path):
    f = write_csv(tmp_path / "ok.csv", [row(ORDERLINENUMBER=str(i)) for i in range(1, 4)])
    c = ingest(conn, f)
    assert (c.read, c.loaded, c.duplicate, c.rejected) == (3, 3, 0, 0)
    st, city = conn.execute("SELECT DISTINCT addressline1, city FROM raw_orders_csv").fetchone()
    assert (st, city) == ("Berguvsvägen 8", "Luleå")
    lines = [r[0] for r in conn.execute("SELECT source_line FROM raw_orders_csv ORDER BY raw_id")]
    assert lines == [2, 3, 4]


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("empty.csv", b"", "is empty"),
        ("missing_columns.csv", b"ORDERNUMBER,QUANTITYORDERED\r\n10100,30\r\n", "required columns missing"),
        (
            "semicolons.csv",
            (";".join(COLUMNS) + "\r\n" + ";".join(row()) + "\r\n").encode("cp1252"),
            "semicolon-separated",
        ),
    ],
)
def test_unloadable_files_fail_with_a_clear_error_and_load_nothing(conn, tmp_path, name, content, message):
    f = tmp_path / name
    f.write_bytes(content)
    with pytest.raises(BadExportError, match=message):
        ingest(conn, f)
    conn.rollback()
    counts = table_counts(conn)
    assert counts["raw_orders_csv"] == 0 and counts["raw_orders_rejects"] == 0


def test_header_only_file_loads_nothing_and_says_so(conn, tmp_path):
    c = ingest(conn, write_csv(tmp_path / "header.csv", []))
    assert (c.read, c.loaded, c.rejected) == (0, 0, 0)


def test_corpus_of_bad_rows_is_quarantined_with_reasons_and_good_rows_load(conn, tmp_path):
    rows = [
        row(ORDERLINENUMBER="1"),
        row(ORDERLINENUMBER="2", ORDERDATE="31/12/2003"),  # bad date
        row(ORDERLINENUMBER="3", QUANTITYORDERED="-4"),  # negative
        row(ORDERLINENUMBER="4", STATUS="Lost in space"),  # unknown status
        row(
            ORDERLINENUMBER="5", ORDERNUMBER="10105", CUSTOMERNAME="x'); DROP TABLE customers;--"
        ),  # SQL-looking: loads
        row(ORDERLINENUMBER="6", ADDRESSLINE1="y" * 5000),  # very long field
        row(ORDERLINENUMBER="1"),  # identical duplicate
        row(ORDERLINENUMBER="1", QUANTITYORDERED="31"),  # conflicting duplicate
        row(ORDERLINENUMBER="7")[:-3],  # truncated last line
    ]
    c = ingest(conn, write_csv(tmp_path / "bad.csv", rows))
    assert c.balanced()
    assert (c.read, c.loaded, c.duplicate, c.rejected) == (9, 2, 1, 6)
    got = {
        line: (reason, raw, other_id, other_text) for line, reason, raw, other_id, other_text in rejects(conn)
    }
    assert "ORDERDATE '31/12/2003' is not a date" in got[3][0]
    assert "QUANTITYORDERED -4 is negative" in got[4][0]
    assert "STATUS 'Lost in space' is not one of" in got[5][0]
    assert "ADDRESSLINE1 is 5000 characters long" in got[7][0]
    assert "conflicting duplicate: order 10100 line 1 appears earlier in this file (line 2)" in got[9][0]
    assert got[9][1].startswith("10100,31,")  # the rejected version ...
    assert got[9][2] is not None and got[9][3].startswith("10100,30,")  # ... and the kept one
    assert "wrong number of fields: expected 25, got 22" in got[10][0]
    assert got[10][1].startswith("10100,30,95.70,7,")
    names = [r[0] for r in conn.execute("SELECT customername FROM raw_orders_csv ORDER BY raw_id")]
    assert "x'); DROP TABLE customers;--" in names
    assert conn.execute("SELECT to_regclass('customers')").fetchone()[0] is not None


def test_conflict_with_an_already_loaded_row_keeps_both_versions(conn, tmp_path):
    ingest(conn, write_csv(tmp_path / "a.csv", [row()]))
    c = ingest(conn, write_csv(tmp_path / "b.csv", [row(PRICEEACH="99.00"), row(ORDERLINENUMBER="2")]))
    assert (c.read, c.loaded, c.duplicate, c.rejected) == (2, 1, 0, 1)
    reason, raw, other_id, _ = rejects(conn)[0][1:]
    assert "already loaded" in reason and "99.00" in raw
    kept = conn.execute("SELECT priceeach FROM raw_orders_csv WHERE raw_id = %s", (other_id,)).fetchone()[0]
    assert float(kept) == 95.70


def test_same_file_again_is_all_duplicates(conn, tmp_path):
    rows = [row(ORDERLINENUMBER=str(i)) for i in range(1, 5)]
    ingest(conn, write_csv(tmp_path / "a.csv", rows))
    c = ingest(conn, write_csv(tmp_path / "a2.csv", rows, lineterminator="\n"))
    assert (c.read, c.loaded, c.duplicate, c.rejected) == (4, 0, 4, 0)


def test_utf8_bom_and_crlf_and_blank_lines(conn, tmp_path):
    f = tmp_path / "bom.csv"
    body = (
        ",".join(COLUMNS)
        + "\r\n"
        + ",".join(row())
        + "\r\n\r\n"
        + ",".join(row(ORDERLINENUMBER="2"))
        + "\r\n"
    )
    f.write_bytes(codecs.BOM_UTF8 + body.encode("utf-8"))
    c = ingest(conn, f, codec="utf-8-sig")
    assert (c.read, c.loaded, c.blank_lines) == (2, 2, 1)
    assert conn.execute("SELECT DISTINCT city FROM raw_orders_csv").fetchone()[0] == GOOD["CITY"]


def test_wrong_encoding_is_a_clear_error_not_mojibake(conn, tmp_path):
    f = write_csv(tmp_path / "cp1252.csv", [row()])
    with pytest.raises(BadExportError, match="does not decode as utf-8"):
        ingest(conn, f, codec="utf-8")
    conn.rollback()
    assert table_counts(conn)["raw_orders_csv"] == 0


def test_a_nul_character_is_quarantined_not_a_crash(conn, tmp_path):
    c = ingest(conn, write_csv(tmp_path / "nul.csv", [row(CITY="Lule\x00a"), row(ORDERLINENUMBER="2")]))
    assert (c.read, c.loaded, c.rejected) == (2, 1, 1)
    ((line, reason, raw, _, _),) = rejects(conn)
    assert line == 2 and reason == "the row contains a NUL character" and "Lule\\x00a" in raw


def test_a_file_whose_sha256_is_not_the_expected_one_is_rolled_back(conn, tmp_path):
    """stage_file(sha256=...) hashes the file while the server classifies: another content commits
    nothing (ContentChanged names both hashes); the expected one stages as usual."""
    from vehicle_sales.ingest.download import FetchedFile, fingerprint, register
    from vehicle_sales.ingest.staging import ContentChanged, stage_file

    f = write_csv(tmp_path / "a.csv", [row(ORDERLINENUMBER=str(i)) for i in range(1, 4)])
    sha, size, lines = fingerprint(f)
    reg = register(conn, FetchedFile(f, str(f), sha, size, lines), lines, "run-1")
    conn.commit()
    wrong = "0" * 64
    with pytest.raises(ContentChanged, match=f"sha256 {wrong[:12]} then, {sha[:12]} now"):
        stage_file(conn, f, reg.file_id, "cp1252", sha256=wrong)
    assert table_counts(conn)["raw_orders_csv"] == 0
    assert conn.execute("SELECT staged_at FROM source_files").fetchone() == (None,)
    c = stage_file(conn, f, reg.file_id, "cp1252", sha256=sha)
    assert (c.read, c.loaded) == (3, 3) and table_counts(conn)["raw_orders_csv"] == 3

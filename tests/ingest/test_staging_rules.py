"""Row validation rules (pure: no database)."""

from __future__ import annotations

import pytest

from support import row
from vehicle_sales.common.columns import COLUMNS
from vehicle_sales.common.errors import BadExportError
from vehicle_sales.ingest.rows import RowError, column_positions, parse_date, validate_record

POS = list(range(len(COLUMNS)))


def check(**changes):
    return validate_record(row(**changes), POS)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("2/24/2003 0:00", "2003-02-24"),
        ("12/1/2004 0:00", "2004-12-01"),
        ("2/24/2003", "2003-02-24"),
        ("2003-02-24", "2003-02-24"),
        ("2003-02-24T10:30:00Z", "2003-02-24"),
        ("2/29/2004 0:00", "2004-02-29"),
        ("2/29/2003 0:00", None),
        ("13/1/2003", None),
        ("24.02.2003", None),
        ("yesterday", None),
        ("", None),
    ],
)
def test_parse_date_accepts_export_and_iso_forms_only(text, expected):
    assert parse_date(text) == expected


def test_good_row_is_normalised():
    out = check(STATUS="shipped", DEALSIZE="SMALL", ADDRESSLINE2="  ")
    assert out[COLUMNS.index("ORDERDATE")] == "2003-02-24"
    assert out[COLUMNS.index("STATUS")] == "Shipped"
    assert out[COLUMNS.index("DEALSIZE")] == "Small"
    assert out[COLUMNS.index("ADDRESSLINE2")] is None


@pytest.mark.parametrize(
    "changes,reason",
    [
        ({"QUANTITYORDERED": "-5"}, "QUANTITYORDERED -5 is negative"),
        ({"PRICEEACH": "-1.50"}, "PRICEEACH -1.50 is negative"),
        ({"PRICEEACH": "12,50"}, "use '.' as the decimal point"),
        ({"QUANTITYORDERED": "ten"}, "QUANTITYORDERED 'ten' is not a whole number"),
        ({"QUANTITYORDERED": "\u0663"}, "is not a whole number"),  # an Arabic-Indic digit
        (
            {"PRICEEACH": "\uff19\uff15.70"},
            "PRICEEACH '\uff19\uff15.70' is not a number",
        ),  # full-width digits
        ({"CITY": "Lule\x00a"}, "the row contains a NUL character"),
        ({"ORDERDATE": "2/30/2003 0:00"}, "ORDERDATE '2/30/2003 0:00' is not a date"),
        ({"STATUS": "Lost"}, "STATUS 'Lost' is not one of"),
        ({"DEALSIZE": "Huge"}, "DEALSIZE 'Huge' is not one of"),
        ({"ORDERLINENUMBER": ""}, "ORDERLINENUMBER is empty"),
        ({"ORDERLINENUMBER": "0"}, "ORDERLINENUMBER 0 is below 1"),
        ({"CUSTOMERNAME": "x" * 300}, "CUSTOMERNAME is 300 characters long (limit 255)"),
        ({"PRODUCTCODE": "S" * 21}, "PRODUCTCODE is 21 characters long (limit 20)"),
        ({"MONTH_ID": "13"}, "MONTH_ID 13 is above 12"),
    ],
)
def test_bad_values_are_rejected_with_a_reason(changes, reason):
    with pytest.raises(RowError, match=None) as exc:
        check(**changes)
    assert reason in str(exc.value)


def test_sql_looking_text_is_just_data():
    out = check(CUSTOMERNAME="Robert'); DROP TABLE customers;--")
    assert out[COLUMNS.index("CUSTOMERNAME")] == "Robert'); DROP TABLE customers;--"


def test_missing_required_columns_are_named():
    header = [c for c in COLUMNS if c not in ("STATUS", "DEALSIZE")]
    with pytest.raises(BadExportError, match="STATUS, DEALSIZE"):
        column_positions(header)


def test_semicolon_header_gets_a_delimiter_hint():
    with pytest.raises(BadExportError, match="semicolon-separated"):
        column_positions([";".join(COLUMNS)])


def test_columns_in_another_order_and_bom_and_case_are_accepted():
    header = ["\ufeff" + c.lower() for c in reversed(COLUMNS)]
    positions = column_positions(header)
    assert positions[0] == len(COLUMNS) - 1


# ----------------------------------------------------------------------- reading lines (reader.py)
@pytest.mark.parametrize(
    ("head", "expected"),
    [
        ("\ufeffORDERNUMBER,SALES\r\n".encode("utf-16-le"), "UTF-16"),
        ("\ufeffORDERNUMBER,SALES\r\n".encode("utf-16-be"), "UTF-16"),
        ("ORDERNUMBER,SALES\r\n".encode("utf-16-le"), "UTF-16"),
        ("\ufeffORDERNUMBER,SALES\r\n".encode("utf-32-le"), "UTF-32"),
        ("ORDERNUMBER,SALES\r\n".encode("utf-32-be"), "UTF-32"),
        (b"ORDERNUMBER,SALES\r\n10100,1.00\r\n", None),
        ("\ufeffORDERNUMBER,CITY\r\n1,Luleå\r\n".encode("utf-8-sig"), None),
        (b"ORDERNUMBER,CITY\r\n1,Lul\x00e\r\n", None),  # one NUL in a field is a row problem
    ],
)
def test_wide_encodings_are_told_from_byte_oriented_ones(head, expected):
    from vehicle_sales.ingest.reader import wide_encoding

    assert wide_encoding(head) == expected


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        ("a,b,c", ["a", "b", "c"]),
        ('a,"b\rc",d', ["a", "b\rc", "d"]),  # a CR inside quotes is data
        ("a,b\rc,d", None),  # a bare CR outside quotes: not one record
        ("", []),
    ],
)
def test_parse_record_reads_one_line_or_says_it_is_not_one_record(text, fields):
    from vehicle_sales.ingest.reader import parse_record

    assert parse_record(text) == fields


def test_a_file_that_is_not_an_export_is_refused_without_quoting_its_content(conn, tmp_path):
    """A readable file inside the allowed folders that is no export (here: a password file) fails
    staging with what is wrong with its header, and no word of its first line in the message."""
    from support import ingest

    path = tmp_path / "passwd.csv"
    path.write_text("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n")
    with pytest.raises(BadExportError, match="required columns missing") as exc:
        ingest(conn, path)
    for word in ("root", "bash", "daemon", "nologin"):
        assert word not in str(exc.value), str(exc.value)

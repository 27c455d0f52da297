"""Stage an export into ``raw_orders_csv``: validate every row, quarantine the bad ones, COPY the rest.

Where rejects are decided: ``validate_record`` (one row's types, ranges and sets) and
``sql/stage_load.sql`` (duplicates and conflicts, which need the other rows and the database).
Every record read ends up loaded, duplicate or rejected, in one transaction per file, and the
log ends with ``read = loaded + duplicate + rejected``.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path

import psycopg

from vehicle_sales.db import take_xact_lock
from vehicle_sales.errors import BadExportError
from vehicle_sales.paths import sql_text

log = logging.getLogger(__name__)

# The export's columns, in the order of raw_orders_csv (lower-cased there).
COLUMNS = (
    "ORDERNUMBER", "QUANTITYORDERED", "PRICEEACH", "ORDERLINENUMBER", "SALES", "ORDERDATE", "STATUS",
    "QTR_ID", "MONTH_ID", "YEAR_ID", "PRODUCTLINE", "MSRP", "PRODUCTCODE", "CUSTOMERNAME", "PHONE",
    "ADDRESSLINE1", "ADDRESSLINE2", "CITY", "STATE", "POSTALCODE", "COUNTRY", "TERRITORY",
    "CONTACTLASTNAME", "CONTACTFIRSTNAME", "DEALSIZE",
)
# Without these a row cannot become an order line of a known customer and product.
REQUIRED_COLUMNS = (
    "ORDERNUMBER", "QUANTITYORDERED", "PRICEEACH", "ORDERLINENUMBER", "ORDERDATE", "STATUS",
    "PRODUCTCODE", "CUSTOMERNAME", "COUNTRY", "DEALSIZE",
)
STATUSES = ("Shipped", "Resolved", "Cancelled", "On Hold", "Disputed", "In Process")
DEAL_SIZES = ("Small", "Medium", "Large")
MAX_FIELD_LENGTH = 255
MAX_PRODUCT_CODE_LENGTH = 20  # products.product_code is varchar(20) in the original design

_STATUS_BY_KEY = {s.casefold(): s for s in STATUSES}
_DEAL_BY_KEY = {s.casefold(): s for s in DEAL_SIZES}
_INT = re.compile(r"[+-]?\d+")
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
_US_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?")
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?")
_IDX = {name: i for i, name in enumerate(COLUMNS)}


class RowError(ValueError):
    """A row-level problem; its message is the reject reason."""


@dataclass
class StageCounts:
    read: int = 0
    loaded: int = 0
    duplicate: int = 0
    rejected: int = 0
    blank_lines: int = 0
    reasons: Counter = field(default_factory=Counter)

    def balanced(self) -> bool:
        return self.read == self.loaded + self.duplicate + self.rejected

    def summary(self) -> str:
        return (f"read={self.read} = loaded={self.loaded} + duplicate={self.duplicate} + "
                f"rejected={self.rejected}")


# --- header -------------------------------------------------------------------------------
def normalise_header(header: list[str]) -> list[str]:
    """Column names as compared: BOM and spaces stripped, upper-case."""
    return [h.replace("\ufeff", "").strip().upper() for h in header]


def column_positions(header: list[str]) -> list[int | None]:
    """For each of COLUMNS, its position in ``header`` (None when absent).

    Raises BadExportError naming the missing required columns, with a hint when the file was
    evidently written with another delimiter.
    """
    names = normalise_header(header)
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        hint = ""
        joined = ",".join(header)
        for delim, label in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
            if len(header) <= 2 and joined.count(delim) >= 5:
                hint = f" The header looks {label}-separated: the export must be comma-separated."
        raise BadExportError(
            f"required columns missing from the export header: {', '.join(missing)}.{hint} "
            f"Header read: {joined[:300]!r}"
        )
    dupes = [n for n, k in Counter(names).items() if k > 1 and n in COLUMNS]
    if dupes:
        raise BadExportError(f"columns appear more than once in the export header: {', '.join(dupes)}")
    return [names.index(c) if c in names else None for c in COLUMNS]


# --- values -------------------------------------------------------------------------------
@lru_cache(maxsize=65536)
def parse_date(text: str) -> str | None:
    """'2/24/2003 0:00' (M/D/YYYY, the export's form) or ISO '2003-02-24' -> '2003-02-24'."""
    m = _US_DATE.fullmatch(text)
    if m:
        month, day, year = int(m[1]), int(m[2]), int(m[3])
    else:
        m = _ISO_DATE.fullmatch(text)
        if not m:
            return None
        year, month, day = int(m[1]), int(m[2]), int(m[3])
    if not 1900 <= year <= 2100:
        return None
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


def _whole(name: str, text: str, low: int, high: int) -> str:
    if not _INT.fullmatch(text):
        raise RowError(f"{name} {text[:40]!r} is not a whole number")
    value = int(text)
    if value < low:
        raise RowError(f"{name} {value} is negative" if value < 0 <= low else f"{name} {value} is below {low}")
    if value > high:
        raise RowError(f"{name} {value} is above {high}")
    return str(value)


def _decimal(name: str, text: str, max_int_digits: int) -> str:
    if not _DECIMAL.fullmatch(text):
        hint = " (use '.' as the decimal point)" if "," in text else ""
        raise RowError(f"{name} {text[:40]!r} is not a number{hint}")
    if text.startswith("-") and text.strip("-0.") != "":
        raise RowError(f"{name} {text} is negative")
    if len(text.lstrip("+-").split(".")[0].lstrip("0")) > max_int_digits:
        raise RowError(f"{name} {text[:40]} is too large")
    return text.lstrip("+")


def _memo(fn: Callable[[str, str], str], name: str) -> Callable[[str], str]:
    """Validate each distinct value once: exports repeat quantities, prices and dates a lot."""
    cache: dict[str, str | RowError] = {}

    def check(text: str) -> str:
        try:
            out = cache[text]
        except KeyError:
            try:
                out = fn(name, text)
            except RowError as exc:
                out = exc
            if len(cache) < 200_000:
                cache[text] = out
        if isinstance(out, RowError):
            raise out
        return out

    return check


def _date_check(name: str, text: str) -> str:
    iso = parse_date(text)
    if iso is None:
        raise RowError(f"{name} {text[:40]!r} is not a date (expected M/D/YYYY or YYYY-MM-DD)")
    return iso


def _one_of(name: str, text: str, allowed: dict[str, str]) -> str:
    try:
        return allowed[text.casefold()]
    except KeyError:
        raise RowError(f"{name} {text[:40]!r} is not one of {', '.join(allowed.values())}") from None


class RowValidator:
    """Turns one CSV record into the values of a raw_orders_csv row, or raises RowError."""

    def __init__(self) -> None:
        self.quantity = _memo(lambda n, t: _whole(n, t, 0, 2_000_000_000), "QUANTITYORDERED")
        self.price = _memo(lambda n, t: _decimal(n, t, 8), "PRICEEACH")
        self.sales = _memo(lambda n, t: _decimal(n, t, 10), "SALES")
        self.msrp = _memo(lambda n, t: _decimal(n, t, 8), "MSRP")
        self.order_date = _memo(_date_check, "ORDERDATE")
        self.status = _memo(lambda n, t: _one_of(n, t, _STATUS_BY_KEY), "STATUS")
        self.deal = _memo(lambda n, t: _one_of(n, t, _DEAL_BY_KEY), "DEALSIZE")
        self.qtr = _memo(lambda n, t: _whole(n, t, 1, 4), "QTR_ID")
        self.month = _memo(lambda n, t: _whole(n, t, 1, 12), "MONTH_ID")
        self.year = _memo(lambda n, t: _whole(n, t, 1900, 2100), "YEAR_ID")

    def __call__(self, v: list[str | None]) -> list[str | None]:
        """``v``: the record's values in COLUMNS order, stripped, '' already turned into None."""
        for name in REQUIRED_COLUMNS:
            if v[_IDX[name]] is None:
                raise RowError(f"{name} is empty")
        for i, value in enumerate(v):
            if value is not None and len(value) > MAX_FIELD_LENGTH:
                raise RowError(f"{COLUMNS[i]} is {len(value)} characters long (limit {MAX_FIELD_LENGTH})")
        out = list(v)
        out[0] = _whole("ORDERNUMBER", v[0], 1, 2_147_483_647)
        out[1] = self.quantity(v[1])
        out[2] = self.price(v[2])
        out[3] = _whole("ORDERLINENUMBER", v[3], 1, 32_767)
        if v[4] is not None:
            out[4] = self.sales(v[4])
        out[5] = self.order_date(v[5])
        out[6] = self.status(v[6])
        if v[7] is not None:
            out[7] = self.qtr(v[7])
        if v[8] is not None:
            out[8] = self.month(v[8])
        if v[9] is not None:
            out[9] = self.year(v[9])
        if v[11] is not None:
            out[11] = self.msrp(v[11])
        if len(v[12]) > MAX_PRODUCT_CODE_LENGTH:
            raise RowError(f"PRODUCTCODE is {len(v[12])} characters long (limit {MAX_PRODUCT_CODE_LENGTH})")
        out[24] = self.deal(v[24])
        return out


def validate_record(record: list[str], positions: list[int | None], validator: RowValidator | None = None
                    ) -> list[str | None]:
    """One record -> row values (COLUMNS order), or RowError with the reason."""
    if validator is None:
        validator = RowValidator()
    values: list[str | None] = []
    for pos in positions:
        if pos is None:
            values.append(None)
            continue
        text = record[pos].strip()
        values.append(text or None)
    return validator(values)


def raw_text(record: list[str]) -> str:
    """A record as CSV text, the way it stands in the file (for the quarantine)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(record)
    return buf.getvalue()


# --- reading ------------------------------------------------------------------------------
def read_records(path: Path, codec: str) -> Iterator[tuple[int, list[str]]]:
    """(line number where the record starts, fields) for every CSV record, header included."""
    with open(path, encoding=codec, errors="strict", newline="") as fh:
        reader = csv.reader(fh, strict=False)
        line = 1
        for record in reader:
            yield line, record
            line = reader.line_num + 1


@dataclass
class _Batches:
    good: io.StringIO = field(default_factory=io.StringIO)
    bad: list[tuple[int, str, str, str | None, str | None]] = field(default_factory=list)


def stage_file(conn: psycopg.Connection, path: Path, file_id: int, codec: str,
               flush_rows: int = 50_000) -> StageCounts:
    """Stage one export file in one transaction; returns the counts (committed)."""
    counts = StageCounts()
    records = read_records(path, codec)
    try:
        first = next(records, None)
    except UnicodeDecodeError as exc:
        raise BadExportError(f"the file does not decode as {codec}: {exc}. Set the Variable "
                             "sales_source_encoding to the export's encoding") from None
    if first is None:
        raise BadExportError(f"the export {path.name} is empty (no header, no rows)")
    positions = column_positions(first[1])
    n_fields = len(first[1])
    validator = RowValidator()

    with conn.cursor() as cur:
        take_xact_lock(conn, "ingest")
        cur.execute(sql_text("stage_create_temp.sql"))
        batch = _Batches()
        writer = csv.writer(batch.good, lineterminator="\n")
        copy_sql = "COPY stage_rows FROM STDIN (FORMAT csv)"
        with cur.copy(copy_sql) as cp:
            try:
                for line, record in records:
                    if not record or (len(record) == 1 and not record[0].strip()):
                        counts.blank_lines += 1
                        continue
                    counts.read += 1
                    if len(record) != n_fields:
                        reason = f"wrong number of fields: expected {n_fields}, got {len(record)}"
                        batch.bad.append((line, raw_text(record), reason, None, None))
                        continue
                    try:
                        values = validate_record(record, positions, validator)
                    except RowError as exc:
                        batch.bad.append((line, raw_text(record), str(exc), _key(record, positions, 0),
                                          _key(record, positions, 3)))
                        continue
                    writer.writerow((line, *values, raw_text(record)))
                    if counts.read % flush_rows == 0:
                        cp.write(batch.good.getvalue())
                        batch.good.seek(0)
                        batch.good.truncate()
            except UnicodeDecodeError as exc:
                raise BadExportError(f"the file does not decode as {codec} (near line {line}): {exc}. "
                                     "Set the Variable sales_source_encoding to the export's encoding") from None
            cp.write(batch.good.getvalue())

        with cur.copy("COPY stage_bad (source_line, raw_text, reason, ordernumber, orderlinenumber)"
                      " FROM STDIN") as cp:
            for row in batch.bad:
                cp.write_row(row)
        cur.execute("SELECT set_config('vehicle_sales.file_id', %s, true)", (str(file_id),))
        cur.execute(sql_text("stage_load.sql"))
        loaded, duplicate, rejected = cur.execute(
            "SELECT count(*) FILTER (WHERE verdict = 'new'),"
            "       count(*) FILTER (WHERE verdict = 'duplicate'),"
            "       count(*) FILTER (WHERE verdict LIKE 'conflict%%') + (SELECT count(*) FROM stage_bad)"
            "  FROM stage_classified"
        ).fetchone()
        for reason, n in cur.execute(
            "SELECT reason, count(*) FROM raw_orders_rejects WHERE source_file_id = %s GROUP BY reason",
            (file_id,),
        ).fetchall():
            counts.reasons[_reason_family(reason)] += n
        counts.loaded, counts.duplicate, counts.rejected = loaded, duplicate, rejected
        if not counts.balanced():  # would mean a row was lost: never commit that
            raise RuntimeError(f"staging lost rows: {counts.summary()}")
        cur.execute(
            "UPDATE source_files SET staged_at = now(), encoding = %s, rows_read = %s, rows_loaded = %s,"
            " rows_duplicate = %s, rows_rejected = %s WHERE file_id = %s",
            (codec, counts.read, counts.loaded, counts.duplicate, counts.rejected, file_id),
        )
    conn.commit()
    return counts


def _key(record: list[str], positions: list[int | None], col: int) -> str | None:
    pos = positions[col]
    return record[pos].strip()[:40] if pos is not None and pos < len(record) else None


def _reason_family(reason: str) -> str:
    """'QUANTITYORDERED -5 is negative' -> 'QUANTITYORDERED is negative' (for counting)."""
    words = reason.split(" ")
    if len(words) >= 3 and words[0].isupper() and "is" in words[1:]:
        return words[0] + " " + " ".join(words[words.index("is", 1):])
    return reason.split(":")[0]

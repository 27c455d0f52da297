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
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from operator import itemgetter
from pathlib import Path
from typing import IO

import psycopg
from vehicle_sales.common.db import take_xact_lock
from vehicle_sales.common.errors import BadExportError
from vehicle_sales.common.paths import sql_text

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
# re.ASCII: only the digits 0-9 are digits here (PostgreSQL rejects other Unicode digits)
_INT = re.compile(r"[+-]?\d+", re.ASCII)
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)", re.ASCII)
_US_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?", re.ASCII)
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?",
                       re.ASCII)
# Dates PostgreSQL (DateStyle MDY) reads exactly as parse_date does: the fast path sends them as is.
_PG_DATE = re.compile(r"\d{1,2}/\d{1,2}/\d{4}(?: ([01]?\d|2[0-3]):[0-5]\d)?|\d{4}-\d{2}-\d{2}", re.ASCII)
_IDX = {name: i for i, name in enumerate(COLUMNS)}
_IDENTITY = list(range(len(COLUMNS)))


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


def _plain_number(text: str, int_digits: int) -> bool:
    """'123' or '123.45': digits 0-9, at most one point, no sign; PostgreSQL reads it as _decimal does."""
    whole, _, frac = text.partition(".")
    return (whole.isascii() and whole.isdigit() and len(whole) <= int_digits
            and (not frac or (frac.isascii() and frac.isdigit())))


# Columns whose distinct values are few (quantities, prices, dates, sets): each distinct text is
# checked once per file and its canonical form remembered. Column index -> (name, check).
_CHECKS: dict[int, tuple[str, Callable[[str, str], str]]] = {
    1: ("QUANTITYORDERED", lambda n, t: _whole(n, t, 0, 2_000_000_000)),
    2: ("PRICEEACH", lambda n, t: _decimal(n, t, 8)),
    4: ("SALES", lambda n, t: _decimal(n, t, 10)),
    5: ("ORDERDATE", _date_check),
    6: ("STATUS", lambda n, t: _one_of(n, t, _STATUS_BY_KEY)),
    7: ("QTR_ID", lambda n, t: _whole(n, t, 1, 4)),
    8: ("MONTH_ID", lambda n, t: _whole(n, t, 1, 12)),
    9: ("YEAR_ID", lambda n, t: _whole(n, t, 1900, 2100)),
    11: ("MSRP", lambda n, t: _decimal(n, t, 8)),
    24: ("DEALSIZE", lambda n, t: _one_of(n, t, _DEAL_BY_KEY)),
}
_OPTIONAL = frozenset(i for i in _CHECKS if COLUMNS[i] not in REQUIRED_COLUMNS)
_REQUIRED_IDX = tuple(_IDX[name] for name in REQUIRED_COLUMNS)
_required = itemgetter(*_REQUIRED_IDX)
_MEMO_LIMIT = 200_000  # distinct values remembered per column


class RowValidator:
    """Turns one CSV record into the values of a raw_orders_csv row, or raises RowError.

    Stateful only as a cache: the verdict on each distinct value of the low-cardinality columns is
    remembered, which makes validating a million rows cost about a dictionary lookup per field.
    """

    def __init__(self) -> None:
        self._good: dict[int, dict[str, str]] = {i: {} for i in _CHECKS}
        self._bad: dict[int, dict[str, RowError]] = {i: {} for i in _CHECKS}
        # texts PostgreSQL may read as they stand ('' of an optional column is NULL either way)
        self._fast: dict[int, set[str]] = {i: ({""} if i in _OPTIONAL else set()) for i in _CHECKS}

    def _check(self, i: int, text: str) -> str:
        bad = self._bad[i].get(text)
        if bad is not None:
            raise bad
        name, check = _CHECKS[i]
        try:
            out = check(name, text)
        except RowError as exc:
            if len(self._bad[i]) < _MEMO_LIMIT:
                self._bad[i][text] = exc
            raise
        if len(self._good[i]) < _MEMO_LIMIT:
            self._good[i][text] = out
        return out

    def __call__(self, v: list[str | None]) -> list[str | None]:
        """``v``: the record's values in COLUMNS order, stripped, '' already turned into None."""
        if any(x is not None and "\x00" in x for x in v):
            raise RowError("the row contains a NUL character")
        if None in _required(v):
            raise RowError(f"{next(n for n in REQUIRED_COLUMNS if v[_IDX[n]] is None)} is empty")
        if max(len(x) for x in v if x is not None) > MAX_FIELD_LENGTH:
            i, value = next((i, x) for i, x in enumerate(v) if x is not None and len(x) > MAX_FIELD_LENGTH)
            raise RowError(f"{COLUMNS[i]} is {len(value)} characters long (limit {MAX_FIELD_LENGTH})")
        out = list(v)
        out[0] = _whole("ORDERNUMBER", v[0], 1, 2_147_483_647)
        out[3] = _whole("ORDERLINENUMBER", v[3], 1, 32_767)
        good = self._good
        for i in _CHECKS:
            text = v[i]
            if text is not None:
                canonical = good[i].get(text)
                out[i] = canonical if canonical is not None else self._check(i, text)
        if len(v[12]) > MAX_PRODUCT_CODE_LENGTH:
            raise RowError(f"PRODUCTCODE is {len(v[12])} characters long (limit {MAX_PRODUCT_CODE_LENGTH})")
        return out


    def fast_text(self, record: list[str]) -> str | None:
        """The record's fields joined by commas when PostgreSQL, reading the fields as they stand,
        stores exactly the values ``__call__`` would produce (valid, nothing to strip or convert);
        else None, and the caller takes the slow path, which also gives the reject reason. The
        joined text is the CSV line itself when it has 24 commas and no quote.

        Only for files whose columns are COLUMNS in order. PostgreSQL must read dates as MDY.
        """
        joined = ",".join(record)
        # isprintable(): no control characters and no whitespace but ' ' (Unicode spaces are not
        # printable), so a field needs stripping only if a ' ' touches a comma or an end
        if (not joined.isprintable()
                or " ," in joined or ", " in joined or joined[:1] == " " or joined[-1:] == " "
                or max(map(len, record)) > MAX_FIELD_LENGTH or len(record[12]) > MAX_PRODUCT_CODE_LENGTH
                or not all(_required(record))):
            return None
        order, line = record[0], record[3]
        if not (order.isascii() and order.isdigit() and order[0] != "0" and len(order) <= 9
                and line.isascii() and line.isdigit() and line[0] != "0" and len(line) <= 4):
            return None
        if not (_plain_number(record[2], 8) and (not record[4] or _plain_number(record[4], 10))):
            return None  # prices and sales are nearly unique: checked, not remembered
        fast = self._fast
        if not (record[1] in fast[1] and record[5] in fast[5] and record[6] in fast[6] and record[7] in fast[7]
                and record[8] in fast[8] and record[9] in fast[9] and record[11] in fast[11]
                and record[24] in fast[24]):
            return joined if self._learn(record) else None
        return joined

    def _learn(self, record: list[str]) -> bool:
        """Check the values the fast sets do not know yet; remember those PostgreSQL reads alike."""
        for i in _CHECKS:
            text = record[i]
            if i in (2, 4) or text in self._fast[i]:
                continue
            try:
                canonical = self._check(i, text)
            except RowError:
                return False
            same = _PG_DATE.fullmatch(text) is not None if i == 5 else (i not in (6, 24) or text == canonical)
            if not same:
                return False
            if len(self._fast[i]) < _MEMO_LIMIT:
                self._fast[i].add(text)
        return True

def validate_record(record: list[str], positions: list[int | None], validator: RowValidator | None = None
                    ) -> list[str | None]:
    """One record -> row values (COLUMNS order), or RowError with the reason."""
    if validator is None:
        validator = RowValidator()
    if positions == _IDENTITY:
        return validator([x or None for x in map(str.strip, record)])
    return validator([None if pos is None else (record[pos].strip() or None) for pos in positions])


def raw_text(record: list[str]) -> str:
    """A record as CSV text, the way it stands in the file (for the quarantine). A NUL, which a
    PostgreSQL text cannot hold, is written as the four characters \\x00."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(record)
    return buf.getvalue().replace("\x00", "\\x00")


# --- reading ------------------------------------------------------------------------------
def read_records(path: Path, codec: str) -> Iterator[tuple[int, list[str]]]:
    """(line number where the record starts, fields) for every CSV record, header included."""
    with open(path, encoding=codec, errors="strict", newline="") as fh:
        reader = csv.reader(fh, strict=False)
        line = 1
        for record in reader:
            yield line, record
            line = reader.line_num + 1


# Columns of the direct COPY into raw_orders_csv (COLUMNS lower-cased, after raw_id/file/line).
_RAW_COPY = ("COPY raw_orders_csv (raw_id, source_file_id, source_line, "
             + ", ".join(c.lower() for c in COLUMNS) + ") FROM STDIN (FORMAT csv)")
_SPOOL_BYTES = 32 * 1024 * 1024  # rows to classify are kept in memory up to this, then on disk


def reserve_raw_ids(cur: psycopg.Cursor, n: int) -> int:
    """Reserve ``n`` consecutive raw_ids (hi/lo block); returns the first.

    Each record gets ``first + its index in the file``, so raw_id follows the file's order whether
    the row is loaded directly or after classification; rejected rows leave gaps, as sequences do.
    """
    if n <= 0:
        return 0
    return int(cur.execute(
        "SELECT setval(pg_get_serial_sequence('raw_orders_csv', 'raw_id'),"
        "              nextval(pg_get_serial_sequence('raw_orders_csv', 'raw_id')) + %s - 1) - %s + 1",
        (n, n),
    ).fetchone()[0])


class _Router:
    """Sends each record of one file where it belongs: straight into raw_orders_csv (COPY text in
    ``direct``), to the spool of rows to classify, or to the rejects (``bad``)."""

    def __init__(self, file_id: int, positions: list[int | None], n_fields: int, first_id: int,
                 capacity: int, known_orders: set[int], spool: IO[str]) -> None:
        self.file_id, self.positions, self.n_fields = file_id, positions, n_fields
        self.first_id, self.capacity, self.known_orders = first_id, capacity, known_orders
        self.fast = positions == _IDENTITY and n_fields == len(COLUMNS)
        self.validator = RowValidator()
        self.seen: set[int] = set()  # (order << 16 | line) of the rows sent directly
        self.direct = io.StringIO()
        self._direct_csv = csv.writer(self.direct, lineterminator="\n")
        self._spool_csv = csv.writer(spool, lineterminator="\n")
        self.bad: list[tuple[int, str, str, str | None, str | None]] = []
        self.n_direct = self.n_spooled = 0

    def add(self, index: int, line: int, record: list[str]) -> None:
        """``index``: the record's number among the file's data records (1-based)."""
        if len(record) != self.n_fields:
            reason = f"wrong number of fields: expected {self.n_fields}, got {len(record)}"
            self.bad.append((line, raw_text(record), reason, None, None))
            return
        # valid as it stands (the common case): no per-field conversion, PostgreSQL reads the text
        text = self.validator.fast_text(record) if self.fast else None
        values: list[str | None] = record
        if text is None:
            try:
                values = validate_record(record, self.positions, self.validator)
            except RowError as exc:
                self.bad.append((line, raw_text(record), str(exc), _key(record, self.positions, 0),
                                 _key(record, self.positions, 3)))
                return
        if index > self.capacity:  # the file changed after download_raw counted its records
            raise BadExportError(f"the file has more records than the {self.capacity} counted when it was"
                                 " downloaded: clear download_raw to fetch it again")
        raw_id = self.first_id + index - 1
        order = int(values[0])
        key = order << 16 | int(values[3])  # line numbers fit in 16 bits
        if key in self.seen or order in self.known_orders:  # classified by stage_load.sql
            if text is not None:
                values = validate_record(record, self.positions, self.validator)
            self._spool_csv.writerow((raw_id, line, *values, raw_text(record)))
            self.n_spooled += 1
            return
        self.seen.add(key)
        if text is not None and '"' not in text and text.count(",") == len(COLUMNS) - 1:
            self.direct.write(f"{raw_id},{self.file_id},{line},{text}\n")  # the line needs no quoting
        else:
            self._direct_csv.writerow((raw_id, self.file_id, line, *values))
        self.n_direct += 1

    def take_direct(self) -> str:
        text = self.direct.getvalue()
        self.direct.seek(0)
        self.direct.truncate()
        return text


def stage_file(conn: psycopg.Connection, path: Path, file_id: int, codec: str,
               flush_rows: int = 10_000) -> StageCounts:
    """Stage one export file in one transaction; returns the counts (committed).

    One pass over the file: a valid row whose order number is not loaded yet and whose key has not
    appeared earlier in the file is new for sure and is streamed straight into raw_orders_csv by
    COPY (PostgreSQL inserts while Python parses the next rows). The few others (an order already
    loaded, a key repeated in the file) are spooled and classified set-based by stage_load.sql as
    new, duplicate or conflict; rows that fail validation go to the rejects table with the reason.
    """
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
    started = time.perf_counter()

    with conn.cursor() as cur, tempfile.SpooledTemporaryFile(
            max_size=_SPOOL_BYTES, mode="w+", encoding="utf-8", newline="") as spool:
        take_xact_lock(conn, "ingest")
        cur.execute("SET LOCAL DateStyle = 'ISO, MDY'")  # how the fast path's M/D/YYYY dates are read
        cur.execute(sql_text("stage_create_temp.sql"))
        known = {r[0] for r in cur.execute("SELECT ordernumber FROM raw_orders_csv GROUP BY 1")}
        capacity = _record_capacity(cur, path, file_id)
        cur.execute("SELECT set_config('vehicle_sales.bulk_tables', 'raw_orders_csv', true),"
                    "       set_config('vehicle_sales.bulk_rows', %s, true)", (str(capacity),))
        cur.execute(sql_text("_bulk_fk_drop.sql"))  # a large file: its lineage key is checked once
        router = _Router(file_id, positions, len(first[1]), reserve_raw_ids(cur, capacity), capacity, known,
                         spool)
        line = 1
        with cur.copy(_RAW_COPY) as cp:
            try:
                for line, record in records:
                    if not record or (len(record) == 1 and not record[0].strip()):
                        counts.blank_lines += 1
                        continue
                    counts.read += 1
                    router.add(counts.read, line, record)
                    if counts.read % flush_rows == 0:
                        cp.write(router.take_direct())
            except UnicodeDecodeError as exc:
                raise BadExportError(f"the file does not decode as {codec} (near line {line}): {exc}. "
                                     "Set the Variable sales_source_encoding to the export's encoding") from None
            cp.write(router.take_direct())
        copied = time.perf_counter()
        router.seen.clear()

        spool.seek(0)
        with cur.copy("COPY stage_rows FROM STDIN (FORMAT csv)") as cp:
            while chunk := spool.read(1 << 20):
                cp.write(chunk)
        with cur.copy("COPY stage_bad (source_line, raw_text, reason, ordernumber, orderlinenumber)"
                      " FROM STDIN") as cp:
            for row in router.bad:
                cp.write_row(row)
        cur.execute("SELECT set_config('vehicle_sales.file_id', %s, true)", (str(file_id),))
        cur.execute(sql_text("stage_load.sql"))
        cur.execute(sql_text("_bulk_fk_restore.sql"))
        _fill_conflicting_text(cur, path, codec, file_id)
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
        counts.loaded, counts.duplicate, counts.rejected = router.n_direct + loaded, duplicate, rejected
        if not counts.balanced():  # would mean a row was lost: never commit that
            raise RuntimeError(f"staging lost rows: {counts.summary()}")
        cur.execute(
            "UPDATE source_files SET staged_at = now(), encoding = %s, rows_read = %s, rows_loaded = %s,"
            " rows_duplicate = %s, rows_rejected = %s WHERE file_id = %s",
            (codec, counts.read, counts.loaded, counts.duplicate, counts.rejected, file_id),
        )
        classified = time.perf_counter()
    conn.commit()
    log.info("staged %s: %d rows loaded directly, %d classified; parse+COPY %.2f s, classify %.2f s,"
             " commit %.2f s", path.name, router.n_direct, router.n_spooled, copied - started,
             classified - copied, time.perf_counter() - classified)
    return counts


def _record_capacity(cur: psycopg.Cursor, path: Path, file_id: int) -> int:
    """How many records the file holds (counted by download_raw; counted here if it was not)."""
    row = cur.execute("SELECT row_count FROM source_files WHERE file_id = %s", (file_id,)).fetchone()
    if row and row[0] is not None:
        return int(row[0])
    from vehicle_sales.ingest.download import count_records

    return count_records(path)


def _fill_conflicting_text(cur: psycopg.Cursor, path: Path, codec: str, file_id: int) -> None:
    """Give conflicts with an earlier line loaded directly that line's text (a second read, only then)."""
    wanted: dict[int, list[int]] = {}
    for line, reject_id in cur.execute(
        "SELECT r.source_line, j.reject_id FROM raw_orders_rejects j"
        "  JOIN raw_orders_csv r ON r.raw_id = j.conflicting_raw_id AND r.source_file_id = j.source_file_id"
        " WHERE j.source_file_id = %s AND j.conflicting_text IS NULL",
        (file_id,),
    ).fetchall():
        wanted.setdefault(line, []).append(reject_id)
    if not wanted:
        return
    texts = [(raw_text(record), reject_id) for line, record in read_records(path, codec) if line in wanted
             for reject_id in wanted[line]]
    cur.executemany("UPDATE raw_orders_rejects SET conflicting_text = %s WHERE reject_id = %s", texts)


def _key(record: list[str], positions: list[int | None], col: int) -> str | None:
    pos = positions[col]
    return record[pos].strip()[:40].replace("\x00", "") if pos is not None and pos < len(record) else None


def _reason_family(reason: str) -> str:
    """'QUANTITYORDERED -5 is negative' -> 'QUANTITYORDERED is negative' (for counting)."""
    words = reason.split(" ")
    if len(words) >= 3 and words[0].isupper() and "is" in words[1:]:
        return words[0] + " " + " ".join(words[words.index("is", 1):])
    return reason.split(":")[0]

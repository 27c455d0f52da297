"""Row rules: where rejects are decided for one record of an export.

Pure functions, no database: the header (which column is where, what is missing), and one record's
types, ranges and sets (:class:`RowValidator`). A record that breaks a rule raises
:class:`RowError`, whose message is the reject reason stored in ``raw_orders_rejects``. Rules that
need the other rows or the database (duplicates, conflicts) are in ``sql/ingest/stage_load.sql``.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from functools import lru_cache
from operator import itemgetter

from vehicle_sales.common.columns import COLUMNS, DEAL_SIZES, POSITION, REQUIRED, STATUSES
from vehicle_sales.common.errors import BadExportError

MAX_FIELD_LENGTH = 255
SALES_LIMIT = 10**10  # order_lines.sales is numeric(12,2)
MAX_PRODUCT_CODE_LENGTH = 20  # products.product_code is varchar(20) in the original design

_STATUS_BY_KEY = {s.casefold(): s for s in STATUSES}
_DEAL_BY_KEY = {s.casefold(): s for s in DEAL_SIZES}
# re.ASCII: only the digits 0-9 are digits here (PostgreSQL rejects other Unicode digits)
_INT = re.compile(r"[+-]?\d+", re.ASCII)
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)", re.ASCII)
_US_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?", re.ASCII)
_ISO_DATE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?", re.ASCII
)
# Dates PostgreSQL (DateStyle MDY) reads exactly as parse_date does: the fast path sends them as is.
_PG_DATE = re.compile(r"\d{1,2}/\d{1,2}/\d{4}(?: ([01]?\d|2[0-3]):[0-5]\d)?|\d{4}-\d{2}-\d{2}", re.ASCII)

# positions of the fields the rules read by name (COLUMNS order)
_ORDER, _QUANTITY, _PRICE, _LINE, _SALES = (
    POSITION[c] for c in ("ORDERNUMBER", "QUANTITYORDERED", "PRICEEACH", "ORDERLINENUMBER", "SALES")
)
_DATE, _STATUS, _MSRP, _PRODUCT, _DEAL = (
    POSITION[c] for c in ("ORDERDATE", "STATUS", "MSRP", "PRODUCTCODE", "DEALSIZE")
)
IDENTITY = list(range(len(COLUMNS)))  # the positions of a file whose columns are COLUMNS in order


class RowError(ValueError):
    """A row-level problem; its message is the reject reason."""


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
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        hint = ""
        joined = ",".join(header)
        for delim, label in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
            if len(header) <= 2 and joined.count(delim) >= 5:
                hint = f" The header looks {label}-separated: the export must be comma-separated."
        # never quote line 1 itself: a file that is not an export may hold anything (a password file)
        known = [n for n in names if n in COLUMNS]
        raise BadExportError(
            f"required columns missing from the export header: {', '.join(missing)}.{hint} "
            f"Line 1 has {len(header)} fields, {len(known)} of them column names of the export"
            + (f" ({', '.join(known[:10])})" if known else "")
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
        raise RowError(
            f"{name} {value} is negative" if value < 0 <= low else f"{name} {value} is below {low}"
        )
    if value > high:
        raise RowError(f"{name} {value} is above {high}")
    return str(value)


def _decimal(name: str, text: str, max_int_digits: int, max_decimals: int = 2) -> str:
    if not _DECIMAL.fullmatch(text):
        hint = " (use '.' as the decimal point)" if "," in text else ""
        raise RowError(f"{name} {text[:40]!r} is not a number{hint}")
    if text.startswith("-") and text.strip("-0.") != "":
        raise RowError(f"{name} {text} is negative")
    whole, _, fraction = text.lstrip("+-").partition(".")
    if len(whole.lstrip("0")) > max_int_digits:
        raise RowError(f"{name} {text[:40]} is too large")
    if len(fraction.rstrip("0")) > max_decimals:  # never rounded silently: the column keeps 2
        raise RowError(f"{name} {text[:40]} has more than {max_decimals} decimals")
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


# Columns whose distinct values are few (quantities, prices, dates, sets): each distinct text is
# checked once per file and its canonical form remembered. Column -> check(name, text).
CHECKS: dict[str, Callable[[str, str], str]] = {
    "QUANTITYORDERED": lambda n, t: _whole(n, t, 0, 2_000_000_000),
    "PRICEEACH": lambda n, t: _decimal(n, t, 8),
    "SALES": lambda n, t: _decimal(n, t, 10),
    "ORDERDATE": _date_check,
    "STATUS": lambda n, t: _one_of(n, t, _STATUS_BY_KEY),
    "QTR_ID": lambda n, t: _whole(n, t, 1, 4),
    "MONTH_ID": lambda n, t: _whole(n, t, 1, 12),
    "YEAR_ID": lambda n, t: _whole(n, t, 1900, 2100),
    "MSRP": lambda n, t: _decimal(n, t, 8),
    "DEALSIZE": lambda n, t: _one_of(n, t, _DEAL_BY_KEY),
}
_CHECK_AT: dict[int, tuple[str, Callable[[str, str], str]]] = {POSITION[c]: (c, f) for c, f in CHECKS.items()}
# the fast path (ingest/screen.py) sends these texts as they stand once seen valid; prices and
# sales are nearly unique, so it checks them by shape instead of remembering them
REMEMBERED = tuple(COLUMNS[i] for i in _CHECK_AT if i not in (_PRICE, _SALES))
_OPTIONAL = frozenset(i for i in _CHECK_AT if COLUMNS[i] not in REQUIRED)
_required = itemgetter(*(POSITION[name] for name in REQUIRED))
_MEMO_LIMIT = 200_000  # distinct values remembered per column


class RowValidator:
    """Turns one CSV record into the values of a raw_orders_csv row, or raises RowError.

    Stateful only as a cache: the verdict on each distinct value of the low-cardinality columns is
    remembered, which makes validating a million rows cost about a dictionary lookup per field.
    """

    def __init__(self) -> None:
        self._good: dict[int, dict[str, str]] = {i: {} for i in _CHECK_AT}
        self._bad: dict[int, dict[str, RowError]] = {i: {} for i in _CHECK_AT}
        # texts PostgreSQL may read as they stand ('' of an optional column is NULL either way)
        self._fast: dict[int, set[str]] = {
            POSITION[c]: ({""} if POSITION[c] in _OPTIONAL else set()) for c in REMEMBERED
        }

    def _check(self, i: int, text: str) -> str:
        bad = self._bad[i].get(text)
        if bad is not None:
            raise bad
        name, check = _CHECK_AT[i]
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
            raise RowError(f"{next(n for n in REQUIRED if v[POSITION[n]] is None)} is empty")
        if max(len(x) for x in v if x is not None) > MAX_FIELD_LENGTH:
            i, value = next((i, x) for i, x in enumerate(v) if x is not None and len(x) > MAX_FIELD_LENGTH)
            raise RowError(f"{COLUMNS[i]} is {len(value)} characters long (limit {MAX_FIELD_LENGTH})")
        out = list(v)
        out[_ORDER] = _whole("ORDERNUMBER", v[_ORDER], 1, 2_147_483_647)
        out[_LINE] = _whole("ORDERLINENUMBER", v[_LINE], 1, 32_767)
        good = self._good
        for i in _CHECK_AT:
            text = v[i]
            if text is not None:
                canonical = good[i].get(text)
                out[i] = canonical if canonical is not None else self._check(i, text)
        if out[_SALES] is None and out[_QUANTITY] is not None and out[_PRICE] is not None:
            computed = int(out[_QUANTITY]) * Decimal(out[_PRICE])
            if computed >= SALES_LIMIT:  # what the refresh would compute must fit order_lines.sales
                raise RowError(
                    f"SALES (QUANTITYORDERED x PRICEEACH = {computed:.2f}) is too large for order_lines.sales"
                    f" (below {SALES_LIMIT:,}): give SALES, or check the quantity and the price"
                )
        if len(v[_PRODUCT]) > MAX_PRODUCT_CODE_LENGTH:
            raise RowError(
                f"PRODUCTCODE is {len(v[_PRODUCT])} characters long (limit {MAX_PRODUCT_CODE_LENGTH})"
            )
        return out

    def stands_as_is(self, i: int, text: str) -> bool:
        """Whether the text of field ``i`` (COLUMNS index), sent to PostgreSQL as it stands, is stored
        exactly as validation stores it: valid, and nothing to convert (a set's value spelled as the
        set spells it, a date in a form PostgreSQL reads as M/D/YYYY). Remembered per text.

        Numbers qualify as they stand ('+7' and '007' are read as 7, as validation reads them).
        """
        known = self._fast.get(i)
        if known is None:
            raise ValueError(f"{COLUMNS[i]} is not one of the columns checked by value")
        if text in known:
            return True
        try:
            canonical = self._check(i, text)
        except RowError:
            return False
        if i == _DATE:
            same = _PG_DATE.fullmatch(text) is not None
        else:
            same = i not in (_STATUS, _DEAL) or text == canonical
        if same and len(known) < _MEMO_LIMIT:
            known.add(text)
        return same


def validate_record(
    record: list[str], positions: list[int | None], validator: RowValidator | None = None
) -> list[str | None]:
    """One record -> row values (COLUMNS order), or RowError with the reason."""
    if validator is None:
        validator = RowValidator()
    if positions == IDENTITY and len(record) == len(IDENTITY):  # the export's columns, in order
        return validator([x or None for x in map(str.strip, record)])
    return validator([None if pos is None else (record[pos].strip() or None) for pos in positions])


def raw_text(record: list[str]) -> str:
    """A record as CSV text, the way it stands in the file (for the quarantine). A NUL, which a
    PostgreSQL text cannot hold, is written as the four characters \\x00."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(record)
    return buf.getvalue().replace("\x00", "\\x00")


def key_field(record: list[str], positions: list[int | None], column: str) -> str | None:
    """The raw text of ``column`` (ORDERNUMBER / ORDERLINENUMBER) for the quarantine's key columns."""
    pos = positions[POSITION[column]]
    return record[pos].strip()[:40].replace("\x00", "") if pos is not None and pos < len(record) else None


def reason_family(reason: str) -> str:
    """'QUANTITYORDERED -5 is negative' -> 'QUANTITYORDERED is negative' (for counting)."""
    words = reason.split(" ")
    if len(words) >= 3 and words[0].isupper() and "is" in words[1:]:
        return words[0] + " " + " ".join(words[words.index("is", 1) :])
    return reason.split(":")[0]

"""Phone validation: each customer's raw phone, read with the country of its address, gets an E.164
and an international form when it is a valid number, or the reason it is not.

* ``validate_phone`` is pure: a raw string and an ISO alpha-2 region in, a ``PhoneResult`` out.
  A number written with a leading ``+`` or an international prefix (00, 011 ...) is read on its
  own; any other number is read as a national number of ``region``.
* ``validate_phones`` is the warehouse step: it selects, set-based and in batches, the customers
  that were never validated or whose ``phone|country`` changed since (``phone_checked_input``),
  validates them in Python and writes each batch back with one UPDATE ... FROM a COPY-filled temp
  table, one transaction per batch. The raw ``phone`` is never modified. Whether a customer needs
  validating is read from the customer row itself, never from the ``phone_val`` watermark (kept for
  information only), so a run that dies half-way leaves rows the next run picks up.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import phonenumbers
import psycopg
from phonenumbers import NumberParseException, PhoneNumberFormat, ValidationResult

from vehicle_sales.common import sql
from vehicle_sales.common.db import get_watermark, set_actor, set_watermark
from vehicle_sales.common.locks import Lock, take_xact_lock

if TYPE_CHECKING:
    from vehicle_sales.common.db import Actor

WATERMARK_TARGET = "phone_val"
# Longer input is refused before any parsing: no real phone (even with an extension and a note)
# comes near it, and it keeps pathological field values cheap.
MAX_INPUT_CHARS = 100

# The reasons an invalid phone is given (customers.phone_invalid_reason).
EMPTY = "empty"
NOT_A_NUMBER = "not a number"
TOO_SHORT = "too short"
TOO_LONG = "too long"
INVALID_FOR_REGION = "invalid for region"
NO_COUNTRY = "no country"
REASONS = (EMPTY, NOT_A_NUMBER, TOO_SHORT, TOO_LONG, INVALID_FOR_REGION, NO_COUNTRY)

# "(0)" marks a trunk prefix that is dropped when dialling from abroad: "+44 (0)20 ...", "(0)55 ...".
_TRUNK_ZERO = re.compile(r"\(\s*0\s*\)")
# A trailing note without digits, e.g. "656-555-9470 (ask for sales)".
_TRAILING_NOTE = re.compile(r"\s*[(\[][^0-9()\[\]]*[)\]]\s*$")
# Where the number starts: a plus sign or a digit (ASCII or full width).
_NUMBER_START = re.compile(r"[+\uff0b0-9\uff10-\uff19]")
# An international (IDD) prefix written instead of "+": 00 (most of the world) or 011 (NANP).
_IDD_PREFIX = re.compile(r"^(?:00|011)[\s.\-/]*(?=[1-9])")
_DIGIT = re.compile(r"[0-9\uff10-\uff19]")
_ONLY_DIGITS_AND_PUNCTUATION = re.compile(r"^[0-9\s+().\-/]*$")

_PARSE_REASONS = {
    NumberParseException.NOT_A_NUMBER: NOT_A_NUMBER,
    NumberParseException.TOO_SHORT_AFTER_IDD: TOO_SHORT,
    NumberParseException.TOO_SHORT_NSN: TOO_SHORT,
    NumberParseException.TOO_LONG: TOO_LONG,
}
_POSSIBLE_REASONS = {
    ValidationResult.TOO_SHORT: TOO_SHORT,
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY: TOO_SHORT,  # a local number without its area code
    ValidationResult.TOO_LONG: TOO_LONG,
}


@dataclass(frozen=True)
class PhoneResult:
    valid: bool
    e164: str | None = None
    international: str | None = None  # INTERNATIONAL format, with the extension if there is one
    reason: str | None = None  # one of REASONS when not valid


def _invalid(reason: str) -> PhoneResult:
    return PhoneResult(False, None, None, reason)


def normalise_region(region: str | None) -> str | None:
    """An ISO alpha-2 code phonenumbers knows, else None (unknown or missing country)."""
    if region is None:
        return None
    region = region.strip().upper()
    return region if region in phonenumbers.SUPPORTED_REGIONS else None


def _parse(text: str, region: str | None) -> tuple[phonenumbers.PhoneNumber | None, str | None]:
    """(number, None) for a valid number, else (None, reason)."""
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        if exc.error_type == NumberParseException.INVALID_COUNTRY_CODE:
            # no region to read a national number with / an unknown country calling code after "+"
            return None, NO_COUNTRY if region is None and not text.startswith(
                ("+", "\uff0b")
            ) else INVALID_FOR_REGION
        reason = _PARSE_REASONS.get(exc.error_type, NOT_A_NUMBER)
        if reason == NOT_A_NUMBER and _ONLY_DIGITS_AND_PUNCTUATION.match(text) and _DIGIT.search(text):
            reason = TOO_SHORT  # "0", "12": digits, just too few of them
        return None, reason
    if phonenumbers.is_valid_number(number):
        return number, None
    return None, _POSSIBLE_REASONS.get(
        phonenumbers.is_possible_number_with_reason(number), INVALID_FOR_REGION
    )


def validate_phone(raw: str | None, region: str | None) -> PhoneResult:
    """Validate ``raw`` as a phone number of ``region`` (ISO alpha-2; None when unknown).

    Numbers with a leading "+" or an international prefix do not need the region. Extensions
    ("ext. 12", "x204") are kept in the international form (not in E.164, which has none); a
    trailing note in parentheses without digits is ignored. Never raises for any input.
    """
    if raw is None or not raw.strip():
        return _invalid(EMPTY)
    if len(raw) > MAX_INPUT_CHARS:
        return _invalid(TOO_LONG)
    text = _TRUNK_ZERO.sub(" ", _TRAILING_NOTE.sub("", raw)).strip()
    start = _NUMBER_START.search(text)
    if start is None:
        return _invalid(NOT_A_NUMBER)
    text = text[start.start() :]
    region = normalise_region(region)
    idd = _IDD_PREFIX.match(text)
    intl_text = "+" + text[idd.end() :] if idd else None

    if region is None and intl_text is not None:
        number, reason = _parse(intl_text, None)
    else:
        number, reason = _parse(text, region)
        if number is None and intl_text is not None:
            # "0033 ..." written for a US customer (whose exit code is 011), or the other way round
            number_intl, _ = _parse(intl_text, None)
            if number_intl is not None:
                number, reason = number_intl, None
    if number is None:
        return _invalid(reason or INVALID_FOR_REGION)
    return PhoneResult(
        True,
        phonenumbers.format_number(number, PhoneNumberFormat.E164),
        phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL),
        None,
    )


# --- the warehouse step -------------------------------------------------------------------------


@dataclass
class PhoneCounts:
    """What one validate_phones run did."""

    candidates: int = 0  # customers selected for (re)validation
    validated: int = 0  # written back
    valid: int = 0
    invalid: int = 0
    by_reason: Counter = field(default_factory=Counter)  # invalid ones, by reason
    batches: int = 0
    changed_meanwhile: int = 0  # phone changed between read and write: left for the next run
    watermark_before: int = 0
    watermark_after: int = 0
    seconds: float = 0.0

    def add_batch(self, candidates: int, written: list[tuple[bool, str | None, int]]) -> None:
        """Tally one committed batch; ``written``: (valid, reason, customers) groups."""
        n_written = 0
        for valid, reason, n in written:
            n_written += n
            if valid:
                self.valid += n
            else:
                self.invalid += n
                self.by_reason[reason] += n
        self.candidates += candidates
        self.validated += n_written
        self.changed_meanwhile += candidates - n_written
        self.batches += 1

    def summary(self) -> str:
        reasons = "|".join(f"{k}:{v}" for k, v in sorted(self.by_reason.items())) or "none"
        return (
            f"candidates={self.candidates}, validated={self.validated}, valid={self.valid}, "
            f"invalid={self.invalid}, by_reason={reasons}, batches={self.batches}, "
            f"changed_meanwhile={self.changed_meanwhile}, "
            f"watermark={self.watermark_before}->{self.watermark_after}"
        )


def validate_batch(rows: list[tuple]) -> list[tuple]:
    """tmp_phone_validation rows for (customer_id, phone, region, checked_input) rows (pure)."""
    out = []
    for customer_id, phone, region, checked_input in rows:
        r = validate_phone(phone, region)
        out.append((customer_id, phone, checked_input, r.valid, r.e164, r.international, r.reason))
    return out


def select_batch(conn: psycopg.Connection, after: int, limit: int) -> list[tuple]:
    """The next ``limit`` customers past ``after`` (keyset order) whose phone needs validating."""
    return sql.run(conn, "contact/phones_select.sql", {"after": after, "limit": limit}).fetchall()


def write_batch(conn: psycopg.Connection, results: list[tuple]) -> list[tuple[bool, str | None, int]]:
    """COPY one batch of results into a temp table and apply them with one UPDATE ... FROM;
    returns the (valid, reason, customers) groups actually written."""
    sql.run(conn, "contact/phones_temp.sql")
    with (
        conn.cursor() as cur,
        cur.copy(
            "COPY tmp_phone_validation (customer_id, phone, checked_input, valid,"
            " e164, international, reason) FROM STDIN"
        ) as cp,
    ):
        for row in results:
            cp.write_row(row)
    return sql.run(conn, "contact/phones_apply.sql").fetchall()


def validate_phones(
    conn: psycopg.Connection,
    batch_size: int = 5000,
    actor: Actor | None = None,
    on_batch: Callable[[int, PhoneCounts], None] | None = None,
) -> PhoneCounts:
    """Validate the phones of new customers and of customers whose phone or country changed.

    ``conn`` is a psycopg 3 connection (autocommit on or off); anything uncommitted on it is
    committed first. One transaction per batch: attribution (``actor``, so the audit rows of the
    updates carry the run's attribution; when None the session's current settings apply), the
    lock, read the next batch, write this one, advance the watermark. Pipelined: while PostgreSQL
    applies batch N, a worker thread validates batch N+1 (only the worker calls phonenumbers).
    ``on_batch(batch_no, counts)`` is called after each committed batch.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    t0 = time.perf_counter()
    conn.commit()  # each batch below is a transaction of its own, not a savepoint of the caller's
    counts = PhoneCounts()
    with conn.transaction():
        counts.watermark_before = watermark = get_watermark(conn, WATERMARK_TARGET)
        rows = select_batch(conn, 0, batch_size)
    pending: Future | None = None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="validate_phones") as worker:
        while rows:
            with conn.transaction():
                if actor is not None:
                    set_actor(conn, actor)
                take_xact_lock(conn, Lock.PHONES)  # concurrent runs take turns batch by batch
                results = pending.result() if pending is not None else validate_batch(rows)
                next_rows = select_batch(conn, rows[-1][0], batch_size)
                pending = worker.submit(validate_batch, next_rows) if next_rows else None
                written = write_batch(conn, results)
                watermark = max(watermark, rows[-1][0])
                set_watermark(conn, WATERMARK_TARGET, watermark)
            counts.add_batch(len(rows), written)
            if on_batch is not None:
                on_batch(counts.batches, counts)
            rows = next_rows
    counts.watermark_after = watermark
    counts.seconds = round(time.perf_counter() - t0, 3)
    return counts

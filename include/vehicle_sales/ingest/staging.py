"""Stage an export into ``raw_orders_csv``: every record ends up loaded, duplicate or rejected, in
one transaction per file, and the counts say ``read = loaded + duplicate + rejected``.

Where rejects are decided: :mod:`vehicle_sales.ingest.rows` (one record's types, ranges and sets)
and ``sql/ingest/stage_load.sql`` (duplicates and conflicts, which need the other rows and the
database). :func:`stage_file` runs these phases, each a function below:

1. **open** the file and map the header's columns by name (:func:`open_export`);
2. **begin** the file's transaction: the ingest lock, the working tables, the bulk path, a block of
   raw_ids in file order (:func:`begin`, ``sql/ingest/stage_begin.sql``);
3. **route** every record in one pass: a valid row whose key is provably new streams straight into
   raw_orders_csv by COPY while Python parses the next ones; a row of an order already loaded, or
   whose key repeats an earlier line, is spooled for classification; an invalid one is rejected with
   its reason (:class:`Router`, :func:`route`);
4. **classify** the spooled rows set-based as new, duplicate or conflict (:func:`classify`,
   ``sql/ingest/stage_load.sql``);
5. **settle**: conflicting texts, the counts, the balance check and the file's record, then commit
   (:func:`settle`).
"""

from __future__ import annotations

import csv
import io
import logging
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import psycopg

from vehicle_sales.common import sql
from vehicle_sales.common.columns import COLUMNS, KEY, POSITION, VALUE_COLUMNS, sql_names
from vehicle_sales.common.errors import BadExportError
from vehicle_sales.ingest.rows import (
    IDENTITY,
    RowError,
    RowValidator,
    column_positions,
    key_field,
    raw_text,
    reason_family,
    validate_record,
)

log = logging.getLogger(__name__)

_ORDER, _LINE = POSITION[KEY[0]], POSITION[KEY[1]]
_COLUMN_LIST = ", ".join(sql_names())
# COPY straight into raw_orders_csv: the reserved raw_id, the file and line, then the export's columns
_RAW_COPY = (
    f"COPY raw_orders_csv (raw_id, source_file_id, source_line, {_COLUMN_LIST}) FROM STDIN (FORMAT csv)"
)
_SPOOL_COPY = f"COPY stage_rows (raw_id, source_line, {_COLUMN_LIST}, raw_text) FROM STDIN (FORMAT csv)"
_BAD_COPY = "COPY stage_bad (source_line, raw_text, reason, ordernumber, orderlinenumber) FROM STDIN"
_SPOOL_BYTES = 32 * 1024 * 1024  # rows to classify are kept in memory up to this, then on disk
_STRUCTURE = {"columns": sql_names(), "value_columns": sql_names(VALUE_COLUMNS)}


@dataclass
class StageCounts:
    """What staging did with one file's records."""

    read: int = 0
    loaded: int = 0
    duplicate: int = 0
    rejected: int = 0
    blank_lines: int = 0
    reasons: Counter = field(default_factory=Counter)
    direct: int = 0  # loaded straight by COPY, without classification
    classified: int = 0  # spooled and classified by stage_load.sql
    seconds: dict[str, float] = field(default_factory=dict)  # by phase

    def balanced(self) -> bool:
        return self.read == self.loaded + self.duplicate + self.rejected

    def summary(self) -> str:
        return (
            f"read={self.read} = loaded={self.loaded} + duplicate={self.duplicate} + rejected={self.rejected}"
        )


# --- reading ------------------------------------------------------------------------------
def read_records(path: Path, codec: str) -> Iterator[tuple[int, list[str]]]:
    """(line number where the record starts, fields) for every CSV record, header included."""
    with open(path, encoding=codec, errors="strict", newline="") as fh:
        reader = csv.reader(fh, strict=False)
        line = 1
        for record in reader:
            yield line, record
            line = reader.line_num + 1


def _decode_error(codec: str, exc: UnicodeDecodeError, line: int | None = None) -> BadExportError:
    near = f" (near line {line})" if line else ""
    return BadExportError(
        f"the file does not decode as {codec}{near}: {exc}. Set the Variable "
        "sales_source_encoding to the export's encoding"
    )


@dataclass
class Export:
    """An export opened for staging: its records after the header, and where each column is."""

    path: Path
    codec: str
    records: Iterator[tuple[int, list[str]]]
    positions: list[int | None]
    n_fields: int


def open_export(path: Path, codec: str) -> Export:
    """Phase 1: read the header and map COLUMNS onto it by name; BadExportError when the file is
    empty, does not decode, or lacks required columns."""
    records = read_records(path, codec)
    try:
        first = next(records, None)
    except UnicodeDecodeError as exc:
        raise _decode_error(codec, exc) from None
    if first is None:
        raise BadExportError(f"the export {path.name} is empty (no header, no rows)")
    header = first[1]
    return Export(path, codec, records, column_positions(header), len(header))


# --- begin ---------------------------------------------------------------------------------
def record_capacity(conn: psycopg.Connection, path: Path, file_id: int) -> int:
    """How many records the file holds (counted by download_raw; counted here if it was not)."""
    row = conn.execute("SELECT row_count FROM source_files WHERE file_id = %s", (file_id,)).fetchone()
    if row and row[0] is not None:
        return int(row[0])
    from vehicle_sales.ingest.download import count_records

    return count_records(path)


def reserve_raw_ids(conn: psycopg.Connection, n: int) -> int:
    """Reserve ``n`` consecutive raw_ids (hi/lo block); returns the first.

    Each record gets ``first + its index in the file``, so raw_id follows the file's order whether
    the row is loaded directly or after classification; rejected rows leave gaps, as sequences do.
    """
    if n <= 0:
        return 0
    return int(
        conn.execute(
            "SELECT setval(pg_get_serial_sequence('raw_orders_csv', 'raw_id'),"
            "              nextval(pg_get_serial_sequence('raw_orders_csv', 'raw_id')) + %s - 1) - %s + 1",
            (n, n),
        ).fetchone()[0]
    )


@dataclass(frozen=True)
class Plan:
    """What begin() prepared: the record capacity, the first reserved raw_id, the known orders."""

    capacity: int
    first_id: int
    known_orders: set[int]


def begin(conn: psycopg.Connection, export: Export, file_id: int) -> Plan:
    """Phase 2: lock, working tables, bulk path, known orders and a block of raw_ids (uncommitted)."""
    capacity = record_capacity(conn, export.path, file_id)
    sql.run(conn, "ingest/stage_begin.sql", {"rows": capacity})
    known = {r[0] for r in conn.execute("SELECT ordernumber FROM raw_orders_csv GROUP BY 1")}
    return Plan(capacity, reserve_raw_ids(conn, capacity), known)


# --- route ---------------------------------------------------------------------------------
class Router:
    """Sends each record of one file where it belongs: straight into raw_orders_csv (COPY text in
    ``direct``), to the spool of rows to classify, or to the rejects (``bad``)."""

    def __init__(self, file_id: int, export: Export, plan: Plan, spool: IO[str]) -> None:
        self.file_id, self.positions, self.n_fields = file_id, export.positions, export.n_fields
        self.first_id, self.capacity, self.known_orders = plan.first_id, plan.capacity, plan.known_orders
        self.fast = export.positions == IDENTITY and export.n_fields == len(COLUMNS)
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
                self.bad.append(
                    (
                        line,
                        raw_text(record),
                        str(exc),
                        key_field(record, self.positions, KEY[0]),
                        key_field(record, self.positions, KEY[1]),
                    )
                )
                return
        if index > self.capacity:  # the file changed after download_raw counted its records
            raise BadExportError(
                f"the file has more records than the {self.capacity} counted when it was"
                " downloaded: clear download_raw to fetch it again"
            )
        raw_id = self.first_id + index - 1
        order = int(values[_ORDER])
        key = order << 16 | int(values[_LINE])  # line numbers fit in 16 bits
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


def _is_blank(record: list[str]) -> bool:
    return not record or (len(record) == 1 and not record[0].strip())


def route(cur: psycopg.Cursor, export: Export, router: Router, counts: StageCounts, flush_rows: int) -> None:
    """Phase 3: one pass over the records; the direct rows are COPYed in batches of ``flush_rows``."""
    line = 1
    with cur.copy(_RAW_COPY) as cp:
        try:
            for line, record in export.records:
                if _is_blank(record):
                    counts.blank_lines += 1
                    continue
                counts.read += 1
                router.add(counts.read, line, record)
                if counts.read % flush_rows == 0:
                    cp.write(router.take_direct())
        except UnicodeDecodeError as exc:
            raise _decode_error(export.codec, exc, line) from None
        cp.write(router.take_direct())
    router.seen.clear()


# --- classify ------------------------------------------------------------------------------
def classify(cur: psycopg.Cursor, router: Router, spool: IO[str], file_id: int) -> None:
    """Phase 4: load the spooled and the rejected rows, then stage_load.sql classifies and loads."""
    spool.seek(0)
    with cur.copy(_SPOOL_COPY) as cp:
        while chunk := spool.read(1 << 20):
            cp.write(chunk)
    with cur.copy(_BAD_COPY) as cp:
        for row in router.bad:
            cp.write_row(row)
    sql.run(cur.connection, "ingest/stage_load.sql", {"file_id": file_id}, **_STRUCTURE)


# --- settle --------------------------------------------------------------------------------
def fill_conflicting_text(conn: psycopg.Connection, export: Export, file_id: int) -> None:
    """Give conflicts with an earlier line loaded directly that line's text (a second read, only then)."""
    wanted: dict[int, list[int]] = {}
    for line, reject_id in sql.run(conn, "ingest/stage_conflict_lines.sql", {"file_id": file_id}).fetchall():
        wanted.setdefault(line, []).append(reject_id)
    if not wanted:
        return
    texts = [
        (raw_text(record), reject_id)
        for line, record in read_records(export.path, export.codec)
        if line in wanted
        for reject_id in wanted[line]
    ]
    with conn.cursor() as cur:
        cur.executemany("UPDATE raw_orders_rejects SET conflicting_text = %s WHERE reject_id = %s", texts)


def settle(
    conn: psycopg.Connection, export: Export, router: Router, counts: StageCounts, file_id: int
) -> None:
    """Phase 5: conflicting texts, the counts and their balance, the file's record (uncommitted)."""
    fill_conflicting_text(conn, export, file_id)
    loaded, duplicate, rejected = sql.run(conn, "ingest/stage_counts.sql").fetchone()
    for reason, n in conn.execute(
        "SELECT reason, count(*) FROM raw_orders_rejects WHERE source_file_id = %s GROUP BY reason",
        (file_id,),
    ).fetchall():
        counts.reasons[reason_family(reason)] += n
    counts.loaded, counts.duplicate, counts.rejected = router.n_direct + loaded, duplicate, rejected
    counts.direct, counts.classified = router.n_direct, router.n_spooled
    if not counts.balanced():  # would mean a row was lost: never commit that
        raise RuntimeError(f"staging lost rows: {counts.summary()}")
    sql.run(
        conn,
        "ingest/stage_record_file.sql",
        {
            "encoding": export.codec,
            "read": counts.read,
            "loaded": counts.loaded,
            "duplicate": counts.duplicate,
            "rejected": counts.rejected,
            "file_id": file_id,
        },
    )


def stage_file(
    conn: psycopg.Connection, path: Path, file_id: int, codec: str, flush_rows: int = 10_000
) -> StageCounts:
    """Stage one export file in one transaction (the phases of the module docstring); returns the
    counts, committed."""
    counts = StageCounts()
    export = open_export(path, codec)
    started = time.perf_counter()
    with (
        conn.cursor() as cur,
        tempfile.SpooledTemporaryFile(
            max_size=_SPOOL_BYTES, mode="w+", encoding="utf-8", newline=""
        ) as spool,
    ):
        router = Router(file_id, export, begin(conn, export, file_id), spool)
        route(cur, export, router, counts, flush_rows)
        routed = time.perf_counter()
        classify(cur, router, spool, file_id)
        settle(conn, export, router, counts, file_id)
        settled = time.perf_counter()
    conn.commit()
    counts.seconds = {
        "parse_copy": round(routed - started, 2),
        "classify": round(settled - routed, 2),
        "commit": round(time.perf_counter() - settled, 2),
    }
    log.info(
        "staged %s: %d rows loaded directly, %d classified; parse+COPY %.2f s, classify %.2f s,"
        " commit %.2f s",
        path.name,
        counts.direct,
        counts.classified,
        *counts.seconds.values(),
    )
    return counts

"""Stage an export into ``raw_orders_csv``: every physical line ends up loaded, duplicate, rejected
or blank, in one transaction per file, and the counts say ``read = loaded + duplicate + rejected``.

Where rejects are decided: :mod:`vehicle_sales.ingest.rows` (one record's types, ranges and sets)
and ``sql/ingest/stage_load.sql`` (duplicates and conflicts, which need the other rows and the
database). :func:`stage_file` runs these phases, each a function below:

1. **open** the file: the header's columns mapped by name (:func:`open_export`);
2. **begin** the file's transaction: the ingest lock, the bulk path, the orders already loaded, a
   block of raw_ids (one per line, in file order) (:func:`begin`, ``sql/ingest/stage_lock.sql``,
   ``sql/ingest/stage_begin.sql``: two round trips);
3. **route** the lines chunk by chunk (:func:`route`): the fast path's gate
   (:mod:`vehicle_sales.ingest.screen`) passes the lines PostgreSQL can COPY as they stand, and
   those whose key is new go straight into raw_orders_csv, while Python screens the next chunk;
   every other line is read as a record (:mod:`vehicle_sales.ingest.reader`: several lines when a
   quoted field holds a line break), validated, and spooled for classification or rejected with
   its reason;
4. **classify** the spooled records set-based as new, duplicate or conflict (:func:`classify`,
   ``sql/ingest/stage_tables.sql``, ``sql/ingest/stage_load.sql``: skipped when every line went
   straight in), then restore what the bulk path dropped (``sql/ingest/stage_restore.sql``);
5. **settle**: the order headers (``sql/ingest/stage_order_headers.sql``: only the orders
   :class:`HeaderWatch` could not clear while routing), conflicting texts, the counts, the balance
   check and the file's record (:func:`settle`).

Given the sha256 download_raw recorded, the file is hashed again on a thread while PostgreSQL runs
phases 4 and 5 (Python only waits for it then), rather than in a pass of its own before staging: a
file that is not that one any more rolls everything back (:class:`ContentChanged`), and so does a
file refused as a bad export whose hash is not that one either (what is wrong is then the file, not
the export download_raw saw).
"""

from __future__ import annotations

import codecs
import csv
import logging
import tempfile
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import chain, repeat
from pathlib import Path
from typing import IO

import numpy as np
import psycopg
from psycopg.copy import QueuedLibpqWriter

from vehicle_sales.common import sql
from vehicle_sales.common.columns import COLUMNS, KEY, POSITION, VALUE_COLUMNS, sql_names
from vehicle_sales.common.errors import BadExportError, SourceNotFoundError
from vehicle_sales.ingest.download import count_lines, sha256_of
from vehicle_sales.ingest.reader import ChunkReader, Header, group_record, parse_record, read_header, strip_cr
from vehicle_sales.ingest.rows import (
    RowError,
    RowValidator,
    column_positions,
    key_field,
    raw_text,
    reason_family,
    validate_record,
)
from vehicle_sales.ingest.screen import PG_ENCODINGS, ZERO, OrderHeaders, Screen

log = logging.getLogger(__name__)

_ORDER, _LINE = POSITION[KEY[0]], POSITION[KEY[1]]
_COLUMN_LIST = ", ".join(sql_names())
_SPOOL_COPY = (
    f"COPY stage_rows (raw_id, source_line, n_lines, {_COLUMN_LIST}, raw_text) FROM STDIN (FORMAT csv)"
)
_BAD_COPY = "COPY stage_bad (source_line, raw_text, reason, ordernumber, orderlinenumber, n_lines) FROM STDIN"
_SPOOL_BYTES = 32 * 1024 * 1024  # records to classify are kept in memory up to this, then on disk
_HEADER_SUSPECTS = 10_000  # orders whose header SQL checks one by one, at least (else all of the file's)
_STRUCTURE = {"columns": sql_names(), "value_columns": sql_names(VALUE_COLUMNS)}


@dataclass
class StageCounts:
    """What staging did with one file's lines (a record spanning lines counts each of them)."""

    read: int = 0  # data lines that are not blank
    loaded: int = 0
    duplicate: int = 0
    rejected: int = 0
    blank_lines: int = 0
    reasons: Counter = field(default_factory=Counter)
    direct: int = 0  # lines loaded straight by COPY, without classification
    classified: int = 0  # records spooled and classified by stage_load.sql
    multiline_records: int = 0  # records whose quoted field holds a line break
    utf8_lines: int = 0  # lines of a mixed file decoded as UTF-8
    seconds: dict[str, float] = field(default_factory=dict)  # by phase

    def balanced(self) -> bool:
        return self.read == self.loaded + self.duplicate + self.rejected

    def summary(self) -> str:
        return (
            f"read={self.read} = loaded={self.loaded} + duplicate={self.duplicate} + rejected={self.rejected}"
        )


# --- open ----------------------------------------------------------------------------------
@dataclass
class Export:
    """An export opened for staging: where its data starts and where each column is."""

    path: Path
    codec: str
    header: Header
    positions: list[int | None]
    n_fields: int
    mixed: bool = False  # a legacy-encoded file with UTF-8 lines: decode() tries UTF-8 per line

    @property
    def fast(self) -> bool:
        """Whether the fast path applies: every column of the file is a known one."""
        return Screen.applies(self.positions, self.n_fields)

    @property
    def stream_encoding(self) -> str | None:
        """PostgreSQL's name for the file's encoding, when COPY can read it as it is."""
        return PG_ENCODINGS.get(codecs.lookup(self.codec).name)

    def copy_statement(self) -> str:
        """COPY straight into raw_orders_csv: the raw_id, the file and line, then the file's columns
        in the file's order."""
        in_file = sorted(
            (p, c.lower()) for c, p in zip(COLUMNS, self.positions, strict=True) if p is not None
        )
        columns = ", ".join(c for _, c in in_file)
        encoding = self.stream_encoding or "UTF8"
        return (
            f"COPY raw_orders_csv (raw_id, source_file_id, source_line, {columns}) FROM STDIN"
            f" (FORMAT csv, ENCODING '{encoding}')"
        )

    def decode(self, line: bytes) -> str:
        if self.mixed and not line.isascii():
            try:
                return line.decode("utf-8")
            except UnicodeDecodeError:
                pass
        return line.decode(self.codec)

    def is_utf8_line(self, line: bytes) -> bool:
        """A non-ASCII line of a mixed file that decodes as UTF-8 (for the count in the log)."""
        if not self.mixed or line.isascii():
            return False
        try:
            line.decode("utf-8")
            return True
        except UnicodeDecodeError:
            return False


def open_export(path: Path, codec: str, mixed: bool = False) -> Export:
    """Phase 1: read the header and map COLUMNS onto it by name; BadExportError when the file is
    empty, does not decode, or lacks required columns. ``mixed``: see :class:`Export`."""
    header = read_header(path, codec)
    return Export(path, codec, header, column_positions(header.fields), len(header.fields), mixed)


def _decode_error(codec: str, exc: UnicodeDecodeError, line: int | None = None) -> BadExportError:
    near = f" (near line {line})" if line else ""
    return BadExportError(
        f"the file does not decode as {codec}{near}: {exc}. Set the Variable "
        "sales_source_encoding to the export's encoding"
    )


# --- begin ---------------------------------------------------------------------------------
class KnownOrders:
    """The order numbers raw_orders_csv already holds, asked a chunk at a time.

    When the table is no bigger than the file, all of them are read at the start (cheap, and
    needed: the bulk path may drop the index that lookups would use), and so they are when the file
    takes the bulk path at all: it drops the table's foreign key, which locks the table until the
    commit, and a lookup from another session would wait for this transaction while it waits for the
    lookup. Otherwise (a file not on the bulk path, a bigger table) each chunk's order numbers are
    looked up through the index, so that a small file added to a large warehouse costs what the file
    costs: the first chunk's on the file's own connection, before its COPY opens (nothing of the file
    is loaded yet), the next ones' on a second connection that sees what is committed (this file's
    own rows are the ``seen`` of the router). That connection is opened on a thread while the first
    chunk is routed (:meth:`prepare`), and only for a file of more than one chunk.
    """

    def __init__(self, orders: np.ndarray | None = None, conn: psycopg.Connection | None = None) -> None:
        self.orders, self.conn = orders, conn
        self.copying = False  # the file's COPY is open: its connection cannot be asked
        self._side: Future[psycopg.Connection] | None = None

    @classmethod
    def open(cls, conn: psycopg.Connection, capacity: int, estimate: float, bulk: bool) -> KnownOrders:
        """The known orders of a file of ``capacity`` lines, into raw_orders_csv of about ``estimate``
        rows (the planner's count); ``bulk``: whether the file takes the bulk path."""
        if estimate <= capacity or bulk:
            rows = conn.execute("SELECT ordernumber FROM raw_orders_csv GROUP BY 1 ORDER BY 1").fetchall()
            return cls(np.array([r[0] for r in rows], dtype=np.int64))
        return cls(conn=conn)

    def prepare(self) -> None:
        """More chunks will be asked about while the COPY is open: start connecting meanwhile."""
        if self.orders is None and self._side is None:
            conn = self.conn
            opener = ThreadPoolExecutor(1, thread_name_prefix="stage-known-orders")
            self._side = opener.submit(
                psycopg.connect, conn.info.dsn, password=conn.info.password, autocommit=True
            )
            opener.shutdown(wait=False)

    def mask(self, orders: np.ndarray) -> np.ndarray:
        """Which of ``orders`` are already loaded."""
        if self.orders is not None:
            return np.isin(orders, self.orders)
        if orders.size == 0:
            return np.zeros(0, dtype=bool)
        if self.copying:
            self.prepare()
            lookup = self._side.result()
        else:
            lookup = self.conn
        found = lookup.execute(
            "SELECT DISTINCT ordernumber FROM raw_orders_csv WHERE ordernumber = ANY(%s)",
            (np.unique(orders).tolist(),),
        ).fetchall()
        return np.isin(orders, np.array([r[0] for r in found], dtype=np.int64))

    def close(self) -> None:
        if self._side is not None:
            try:
                side = self._side.result()
            except psycopg.Error:  # never connected: a lookup (if any) has raised it already
                return
            side.close()


@dataclass(frozen=True)
class Plan:
    """What begin() prepared: the line capacity, the first reserved raw_id, the known orders, and
    whether the file takes the bulk path (stage_restore.sql restores what it dropped)."""

    capacity: int
    first_id: int
    known_orders: KnownOrders
    bulk: bool

    def raw_id(self, line):
        """The raw_id reserved for line ``line`` of the file (an int or an array of them; line 2 is
        the first data line: see :func:`begin`)."""
        return self.first_id + line - 2

    @property
    def last_id(self) -> int:
        """The last raw_id reserved for the file: its last data line's."""
        return self.raw_id(self.capacity + 1)


class ContentChanged(SourceNotFoundError):
    """The file staged is not the one download_raw fingerprinted: its sha256 differs. Nothing of it
    was committed."""

    def __init__(self, path: Path, expected: str, found: str) -> None:
        super().__init__(
            f"{path} changed since download_raw fingerprinted it (sha256 {expected[:12]} then,"
            f" {found[:12]} now): clear download_raw to ingest the new content"
        )
        self.path, self.expected, self.found = path, expected, found


class AlreadyStaged(Exception):
    """Another run staged this very file while this one waited for the ingest lock: nothing to do."""

    def __init__(self, file_id: int, staged_at) -> None:
        super().__init__(f"file_id {file_id} was staged at {staged_at} by another run")
        self.file_id, self.staged_at = file_id, staged_at


def begin(conn: psycopg.Connection, export: Export, file_id: int) -> Plan:
    """Phase 2: lock, known orders, the bulk path and a block of raw_ids (uncommitted), in two round
    trips (three when every known order is read). AlreadyStaged when another run staged the file
    meanwhile (two runs racing on one export: the second waits for the first, then skips; its
    bookkeeping stays the first's).

    The block: one raw_id per data line (download_raw counted them; counted here if it did not),
    consecutive (hi/lo): line L of the file gets raw_id ``first + L - 2`` (line 2 is the first data
    line), so raw_id follows the file's order whichever path a line takes; blank and rejected lines
    leave gaps, as sequences do."""
    # the ingest lock before anything is read: every earlier load is committed
    row_count, staged_at, estimate = sql.run(conn, "ingest/stage_lock.sql", {"file_id": file_id}).fetchone()
    if staged_at is not None:
        conn.rollback()
        raise AlreadyStaged(file_id, staged_at)
    capacity = int(row_count) if row_count is not None else count_lines(export.path)
    first_id, bulk = sql.run(conn, "ingest/stage_begin.sql", {"rows": capacity}).fetchone()
    known = KnownOrders.open(conn, capacity, estimate, bulk)
    return Plan(capacity, int(first_id), known, bulk)


# --- route ---------------------------------------------------------------------------------
def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """(n, width) ASCII digits of non-negative integers, zero-padded (PostgreSQL reads 0042 as 42)."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return ((values[:, None] // powers) % 10 + ZERO).astype(np.uint8)


def _prefixes(raw_ids: np.ndarray, file_id: int, line_nos: np.ndarray) -> list[bytes]:
    """b"<raw_id>,<file_id>,<line>," for each line, built at once (fixed-width numbers)."""
    if raw_ids.size == 0:
        return []
    id_width = max(len(str(int(raw_ids.max()))), 1)
    line_width = max(len(str(int(line_nos.max()))), 1)
    middle = np.frombuffer(b"," + str(file_id).encode() + b",", dtype=np.uint8)
    out = np.concatenate(
        [
            _digits(raw_ids, id_width),
            np.broadcast_to(middle, (raw_ids.size, middle.size)),
            _digits(line_nos, line_width),
            np.full((raw_ids.size, 1), ord(","), dtype=np.uint8),
        ],
        axis=1,
    )
    return np.ascontiguousarray(out).view(f"S{out.shape[1]}").ravel().tolist()


def _line_end(line: bytes, crlf: bool) -> bytes:
    """The line with the stream's line ending style (its CR present or absent)."""
    return (line if line.endswith(b"\r") else line + b"\r") if crlf else strip_cr(line)


class SeenKeys:
    """The keys (order << 16 | line) of the valid records of a file routed so far.

    While each chunk's keys are all above every earlier key (an export sorted by order number),
    none of them can have been seen: they are kept as arrays and nothing is looked up. The first
    chunk that is not turns them into a set, which answers from then on."""

    def __init__(self) -> None:
        self._runs: list[np.ndarray] = []
        self._max = -1
        self._set: set[int] | None = None

    def remember(self, keys: np.ndarray) -> np.ndarray:
        """Which of ``keys`` no earlier call had (repeats within ``keys`` are the caller's); all of
        them are remembered."""
        if keys.size == 0:
            return np.ones(0, dtype=bool)
        if self._set is None and int(keys.min()) > self._max:
            self._runs.append(keys.copy())
            self._max = int(keys.max())
            return np.ones(keys.size, dtype=bool)
        if self._set is None:
            self._set = set(np.concatenate(self._runs).tolist()) if self._runs else set()
            self._runs = []
        seen, key_list = self._set, keys.tolist()
        if seen.isdisjoint(key_list):
            new = np.ones(keys.size, dtype=bool)
        else:
            new = np.fromiter((k not in seen for k in key_list), dtype=bool, count=keys.size)
        seen.update(key_list)
        return new

    def clear(self) -> None:
        self.__init__()


class HeaderWatch:
    """The orders of a file whose lines may disagree on the order's header (customer, date and
    status): stage_order_headers.sql checks those only, not every order of the file.

    An order is left out only when every one of its lines in the file went straight into
    raw_orders_csv with the same header bytes (equal texts give equal values). Everything else is a
    suspect: lines whose header bytes differ, header fields too long to compare here, and any order
    with a line that took the careful way (spooled and classified in SQL, perhaps loaded).
    """

    def __init__(self, limit: int) -> None:
        self.first: dict[int, bytes] = {}  # an order's header bytes, as its first direct line has them
        self.suspects: set[int] = set()
        self.limit = limit  # more suspects than this: check every order of the file (None)

    def add(self, orders: np.ndarray, headers: OrderHeaders) -> None:
        """Direct lines of a chunk: their order numbers and header fields."""
        if orders.size == 0:
            return
        self.suspects.update(np.unique(orders[~headers.fit]).tolist())
        by_order = np.argsort(orders, kind="stable")
        o, h = orders[by_order], headers.rows[by_order]
        opens = np.concatenate([[True], o[1:] != o[:-1]])  # the first line of each order's group
        starts, group = np.flatnonzero(opens), np.cumsum(opens) - 1
        differ = (h != h[starts[group]]).any(axis=1)
        self.suspects.update(np.unique(o[differ]).tolist())
        first = self.first
        for order, text in zip(o[starts].tolist(), headers.texts(by_order[starts]), strict=True):
            if first.setdefault(order, text) != text:
                self.suspects.add(order)

    def mark(self, orders) -> None:
        """Orders with a line on the careful way."""
        self.suspects.update(orders)

    def orders(self) -> list[int] | None:
        """The orders to check (sorted), or None: all of the file's."""
        return None if len(self.suspects) > self.limit else sorted(self.suspects)


class Router:
    """Sends each line of one file where it belongs, a chunk at a time: straight into raw_orders_csv
    (the COPY text of :meth:`take_direct`), to the spool of records to classify, or to the rejects
    (``bad``). The first line of a key in the file is the one that goes straight in."""

    def __init__(
        self, file_id: int, export: Export, plan: Plan, spool: IO[str], use_fast_path: bool = True
    ) -> None:
        self.file_id, self.export, self.plan = file_id, export, plan
        self.validator = RowValidator()
        self.screen = (
            Screen(export.codec, export.positions, export.n_fields, self.validator, export.mixed)
            if use_fast_path and export.fast
            else None
        )
        self.seen = SeenKeys()  # (order << 16 | line) of every valid record so far
        self.headers = HeaderWatch(max(_HEADER_SUSPECTS, plan.capacity // 10))
        self._direct: list[bytes] = []
        self._spool_csv = csv.writer(spool, lineterminator="\n")
        self.bad: list[tuple[int, str, str, str | None, str | None, int]] = []
        self.n_direct = self.n_spooled = self.n_multiline = self.n_utf8 = 0
        self._crlf: bool | None = None  # the COPY stream's line ending: CR LF or LF, as its first line

    # one chunk ---------------------------------------------------------------------------
    def add_chunk(
        self, lines: list[bytes], first_line: int, data: bytes, counts: StageCounts, final: bool = False
    ) -> int:
        """Route the lines of a chunk; returns how many lines at its end were not taken (a record
        still open that the next chunk may close); none when ``final`` (the file ends here)."""
        n = len(lines)
        if first_line + n - 2 > self.plan.capacity:  # the file changed after download_raw counted it
            raise BadExportError(
                f"the file has more lines than the {self.plan.capacity} counted when it was"
                " downloaded: clear download_raw to fetch it again"
            )
        if self.screen is not None:
            screened = self.screen(data, lines)
            ok, blank = screened.ok.copy(), screened.blank
            fast_idx, fast_orders, fast_lines = (
                np.flatnonzero(screened.ok),
                screened.orders,
                screened.order_lines,
            )
            cr_lines, headers = screened.cr_lines, screened.headers
        else:
            ok = np.zeros(n, dtype=bool)
            blank = np.fromiter((not strip_cr(x) for x in lines), dtype=bool, count=n)
            fast_idx = fast_orders = fast_lines = np.zeros(0, dtype=np.int64)
            cr_lines = headers = None  # no direct line: not needed

        # the careful path, in line order: records, their keys, or their reasons
        slow: list[tuple[int, int, list[str | None], str]] = []  # (k, n_lines, values, text)
        limit = n
        skip_to = 0
        for k in np.flatnonzero(~ok & ~blank).tolist():
            if k < skip_to:
                continue
            line_no = first_line + k
            try:
                g = group_record(lines, k, self.export.decode, final)
            except UnicodeDecodeError as exc:
                raise _decode_error(self.export.codec, exc, line_no) from None
            if g.more:  # the record may go on in the next chunk
                limit = k
                break
            skip_to = k + g.n_lines
            self.n_utf8 += sum(self.export.is_utf8_line(lines[j]) for j in range(k, k + g.n_lines))
            if g.n_lines > 1:
                ok[k + 1 : k + g.n_lines] = False  # continuation lines are part of this record
                self.n_multiline += 1
            self._careful(k, line_no, g, slow, counts)
        keep = (fast_idx < limit) & ok[fast_idx]  # not a continuation line of a multi-line record
        fast_idx, fast_orders, fast_lines = fast_idx[keep], fast_orders[keep], fast_lines[keep]
        kept = np.flatnonzero(keep)  # of the screen's ok lines
        counts.read += int((~blank[:limit]).sum())
        counts.blank_lines += int(blank[:limit].sum())

        direct = self._dispatch(lines, first_line, fast_idx, fast_orders, fast_lines, slow, cr_lines)
        if headers is not None:
            self.headers.add(fast_orders[direct], headers.take(kept[direct]))
        return n - limit

    def _careful(self, k: int, line_no: int, g, slow: list, counts: StageCounts) -> None:
        """One record the fast path left: validated into ``slow``, or rejected with its reason."""
        span = "" if g.n_lines == 1 else f" (the record spans lines {line_no}-{line_no + g.n_lines - 1})"
        if g.fields is None:
            reason = g.reason or "a quoted field opens on this line and is not closed (unbalanced quote)"
            self.bad.append((line_no, g.text.replace("\x00", "\\x00"), reason, None, None, 1))
            return
        record = g.fields
        if len(record) == 1 and not record[0].strip():  # a line of spaces: blank
            counts.read -= g.n_lines
            counts.blank_lines += g.n_lines
            return
        positions = self.export.positions
        if len(record) != self.export.n_fields:
            reason = f"wrong number of fields: expected {self.export.n_fields}, got {len(record)}{span}"
            self.bad.append((line_no, raw_text(record), reason, None, None, g.n_lines))
            return
        try:
            values = validate_record(record, positions, self.validator)
        except RowError as exc:
            self.bad.append(
                (
                    line_no,
                    raw_text(record),
                    f"{exc}{span}",
                    key_field(record, positions, KEY[0]),
                    key_field(record, positions, KEY[1]),
                    g.n_lines,
                )
            )
            return
        slow.append((k, g.n_lines, values, raw_text(record)))

    @staticmethod
    def _cr_all(n_lines: int, cr_lines: int | None) -> bool | None:
        """True when every line of a chunk ends in CR (a CR LF chunk), False when none does, None
        when mixed (or not counted). ``cr_lines``: how many do (the screen counted them)."""
        return True if cr_lines == n_lines else False if cr_lines == 0 else None

    def _dispatch(self, lines, first_line, fast_idx, fast_orders, fast_lines, slow, cr_lines) -> np.ndarray:
        """Direct COPY for a fast line whose key is new (not loaded, not seen earlier in the file);
        the spool for the other valid records. Returns which fast lines went directly."""
        slow_idx = np.array([s[0] for s in slow], dtype=np.int64)
        slow_keys = np.array([int(s[2][_ORDER]) << 16 | int(s[2][_LINE]) for s in slow], dtype=np.int64)
        fast_keys = fast_orders << 16 | fast_lines
        where = np.concatenate([fast_idx, slow_idx])
        keys = np.concatenate([fast_keys, slow_keys])
        order = np.argsort(where, kind="stable")
        first = np.zeros(keys.size, dtype=bool)
        if keys.size:
            _, first_pos = np.unique(keys[order], return_index=True)
            first[order[first_pos]] = True
        new = self.seen.remember(keys)
        direct = (first & new)[: fast_idx.size] & ~self.plan.known_orders.mask(fast_orders)
        # the other valid records go the careful way: their orders' headers are checked in SQL
        self.headers.mark(np.concatenate([fast_orders[~direct], slow_keys >> 16]).tolist())

        # one COPY line per direct line: raw_id, file, line, then the line as it stands (with its CR,
        # when the stream's lines end in CR LF, as the file's first lines did: COPY wants one style)
        take = fast_idx[direct]
        if take.size:
            if self._crlf is None:
                self._crlf = lines[int(take[0])].endswith(b"\r")
            bodies = (
                lines
                if self._cr_all(len(lines), cr_lines) is self._crlf
                else [_line_end(x, self._crlf) for x in lines]
            )
            if self.export.stream_encoding is None:
                codec, end = self.export.codec, b"\r" if self._crlf else b""
                bodies = [strip_cr(b).decode(codec).encode("utf-8") + end for b in bodies]
            prefixes = _prefixes(self.plan.raw_id(first_line + take), self.file_id, first_line + take)
            taken = bodies if take.size == len(bodies) else map(bodies.__getitem__, take.tolist())
            self._direct.append(b"".join(chain.from_iterable(zip(prefixes, taken, repeat(b"\n")))))
            self.n_direct += take.size

        # everything else valid is spooled, in line order
        spooled = [(int(k), 1, None, None) for k in fast_idx[~direct].tolist()] + slow
        spooled.sort(key=lambda s: s[0])
        for k, n_lines, values, text in spooled:
            line_no = first_line + k
            if values is None:  # a fast line: valid, read it as a record
                record = parse_record(self.export.decode(strip_cr(lines[k])))
                values, text = (
                    validate_record(record, self.export.positions, self.validator),
                    raw_text(record),
                )
            self._spool_csv.writerow((self.plan.raw_id(line_no), line_no, n_lines, *values, text))
            self.n_spooled += 1
        return direct

    def take_direct(self) -> bytes:
        text = b"".join(self._direct)
        self._direct.clear()
        return text


def route(cur: psycopg.Cursor, export: Export, router: Router, counts: StageCounts) -> None:
    """Phase 3: the lines chunk by chunk; each chunk's direct lines are COPYed by a worker thread
    while the next chunk is screened (QueuedLibpqWriter), so PostgreSQL and Python work at once.
    The first chunk is routed before the COPY opens (its known orders asked on the file's own
    connection: see KnownOrders)."""
    known = router.plan.known_orders
    with ChunkReader(export.path, export.header.data_offset) as reader:

        def take(chunk) -> None:
            left = router.add_chunk(chunk.lines, chunk.first_line, chunk.data, counts, final=reader.exhausted)
            reader.give_back(left)

        chunks = iter(reader)
        if (first := next(chunks, None)) is not None:
            if reader.more:
                known.prepare()
            take(first)
        known.copying = True
        with cur.copy(export.copy_statement(), writer=QueuedLibpqWriter(cur)) as cp:
            cp.write(router.take_direct())
            for chunk in chunks:
                take(chunk)
                cp.write(router.take_direct())
    router.seen.clear()


# --- classify ------------------------------------------------------------------------------
def classify(cur: psycopg.Cursor, router: Router, spool: IO[str], file_id: int) -> bool:
    """Phase 4: load the spooled and the rejected records, and stage_load.sql classifies them and
    loads the new ones; then, for a file on the bulk path, stage_restore.sql restores what it
    dropped. Returns whether anything was classified: not when every line went straight in (no
    working tables, nothing to classify or reject)."""
    classified = bool(router.n_spooled or router.bad)
    if classified:
        sql.run(cur.connection, "ingest/stage_tables.sql")
        spool.seek(0)
        with cur.copy(_SPOOL_COPY) as cp:
            while chunk := spool.read(1 << 20):
                cp.write(chunk)
        with cur.copy(_BAD_COPY) as cp:
            for row in router.bad:
                cp.write_row(row)
        sql.run(cur.connection, "ingest/stage_load.sql", {"file_id": file_id}, **_STRUCTURE)
    if router.plan.bulk:
        sql.run(cur.connection, "ingest/stage_restore.sql")
    return classified


# --- settle --------------------------------------------------------------------------------
def fill_raw_text(conn: psycopg.Connection, export: Export, wanted: dict[int, int]) -> None:
    """Give rejects decided after loading (``{line number: reject_id}``) their record's text, read
    again from the file (only then, and only those lines)."""
    if not wanted:
        return
    texts = []
    with ChunkReader(export.path, export.header.data_offset) as reader:
        for chunk in reader:
            for k in range(len(chunk.lines)):
                reject_id = wanted.get(chunk.first_line + k)
                if reject_id is not None:
                    g = group_record(chunk.lines, k, export.decode)
                    texts.append((raw_text(g.fields) if g.fields is not None else g.text, reject_id))
    with conn.cursor() as cur:
        cur.executemany("UPDATE raw_orders_rejects SET raw_text = %s WHERE reject_id = %s", texts)


def fill_conflicting_text(conn: psycopg.Connection, export: Export, file_id: int) -> None:
    """Give conflicts with an earlier line loaded directly that line's text (read again, only then)."""
    wanted: dict[int, list[int]] = {}
    for line, reject_id in sql.run(conn, "ingest/stage_conflict_lines.sql", {"file_id": file_id}).fetchall():
        wanted.setdefault(line, []).append(reject_id)
    if not wanted:
        return
    texts = []
    with ChunkReader(export.path, export.header.data_offset) as reader:
        for chunk in reader:
            for k, line in enumerate(chunk.lines):
                for reject_id in wanted.get(chunk.first_line + k, ()):
                    record = parse_record(export.decode(strip_cr(line)))
                    texts.append((raw_text(record), reject_id))
    with conn.cursor() as cur:
        cur.executemany("UPDATE raw_orders_rejects SET conflicting_text = %s WHERE reject_id = %s", texts)


def settle(
    conn: psycopg.Connection,
    export: Export,
    router: Router,
    counts: StageCounts,
    file_id: int,
    classified: bool,
) -> None:
    """Phase 5: order headers, conflicting texts, the counts and their balance, the file's record
    (uncommitted). ``classified``: whether classify() classified anything (if not, this file has no
    rejects yet and stage_load.sql loaded nothing)."""
    plan = router.plan
    orders = router.headers.orders()
    moved = (
        []  # HeaderWatch cleared every order of the file
        if orders == []
        else sql.run(
            conn,
            "ingest/stage_order_headers.sql",
            {"file_id": file_id, "first_id": plan.first_id, "last_id": plan.last_id, "orders": orders},
        ).fetchall()
    )
    fill_raw_text(conn, export, {line: reject_id for line, _, reject_id in moved})
    header_lines = sum(n for _, n, _ in moved)
    loaded = duplicate = rejected = 0
    if classified or moved:  # else: no reject of this file to read
        fill_conflicting_text(conn, export, file_id)
        if classified:
            loaded, duplicate, rejected = sql.run(conn, "ingest/stage_counts.sql").fetchone()
        for reason, n in conn.execute(
            "SELECT reason, count(*) FROM raw_orders_rejects WHERE source_file_id = %s GROUP BY reason",
            (file_id,),
        ).fetchall():
            counts.reasons[reason_family(reason)] += n
    loaded, rejected = loaded - header_lines, rejected + header_lines
    counts.loaded, counts.duplicate, counts.rejected = router.n_direct + loaded, duplicate, rejected
    counts.direct, counts.classified, counts.multiline_records = (
        router.n_direct,
        router.n_spooled,
        router.n_multiline,
    )
    counts.utf8_lines = router.n_utf8
    if not counts.balanced():  # would mean a line was lost: never commit that
        raise RuntimeError(f"staging lost lines: {counts.summary()}")
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


def _sha256(path: Path) -> str:
    return sha256_of(path)[0]


def stage_file(
    conn: psycopg.Connection,
    path: Path,
    file_id: int,
    codec: str,
    use_fast_path: bool = True,
    mixed: bool = False,
    sha256: str | None = None,
) -> StageCounts:
    """Stage one export file in one transaction (the phases of the module docstring); returns the
    counts, committed. ``use_fast_path=False`` sends every line the careful way (for tests);
    ``mixed``: a legacy file holding UTF-8 lines (see ingest/encoding.py); ``sha256``: the content
    the file must have, checked before the commit (ContentChanged, all rolled back, when it has not)."""
    counts = StageCounts()
    started = time.perf_counter()
    try:
        export = open_export(path, codec, mixed)
        with (
            conn.cursor() as cur,
            tempfile.SpooledTemporaryFile(
                max_size=_SPOOL_BYTES, mode="w+", encoding="utf-8", newline=""
            ) as spool,
            ThreadPoolExecutor(1, thread_name_prefix="stage-sha256") as hasher,
        ):
            router = Router(file_id, export, plan := begin(conn, export, file_id), spool, use_fast_path)
            try:
                route(cur, export, router, counts)
            finally:
                plan.known_orders.close()
            routed = time.perf_counter()
            # read through: its hash on a thread while the server works (hashlib lets go of the GIL)
            found = hasher.submit(_sha256, path) if sha256 else None
            classified = classify(cur, router, spool, file_id)
            settle(conn, export, router, counts, file_id, classified)
            if found is not None and found.result() != sha256:
                raise ContentChanged(path, sha256, found.result())
            settled = time.perf_counter()
    except (BadExportError, ContentChanged) as exc:
        conn.rollback()
        if sha256 and not isinstance(exc, ContentChanged) and (now := _sha256(path)) != sha256:
            raise ContentChanged(path, sha256, now) from exc  # what is wrong: not the file fingerprinted
        raise
    conn.commit()
    counts.seconds = {
        "parse_copy": round(routed - started, 2),
        "classify": round(settled - routed, 2),
        "commit": round(time.perf_counter() - settled, 2),
    }
    log.info(
        "staged %s: %d lines loaded directly, %d records classified; parse+COPY %.2f s, classify %.2f s,"
        " commit %.2f s",
        path.name,
        counts.direct,
        counts.classified,
        *counts.seconds.values(),
    )
    return counts

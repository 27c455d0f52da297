"""The fast path's gate: which lines of a chunk PostgreSQL may COPY exactly as they stand.

A line passes when PostgreSQL, parsing it as CSV and casting its fields, stores exactly the values
the row rules (:mod:`vehicle_sales.ingest.rows`) would produce from it: the right number of fields,
nothing to strip (no space at a field's edge, no control or unprintable character), no empty
required field, fields within their lengths, whole numbers and plain decimals that PostgreSQL reads
as the rules do, and for the low-cardinality columns (quantity, date, status, ids, MSRP, deal size)
a text the rules accept as it stands. Quoted fields pass when the quotes wrap the whole field
and nothing else in it is a quote. Everything else takes the careful path, record by record,
which also gives the reason of a reject. The gate may send too many lines to the careful path,
never too few.

It works on a chunk of lines at once with numpy (a few passes over the bytes, then per field), so
that a million lines cost about a second of Python. Low-cardinality fields are checked per distinct
text, through :meth:`RowValidator.stands_as_is`, which remembers its verdicts.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

import numpy as np
import pandas as pd

from vehicle_sales.common.columns import COLUMNS, POSITION, REQUIRED
from vehicle_sales.ingest.rows import MAX_FIELD_LENGTH, MAX_PRODUCT_CODE_LENGTH, REMEMBERED, RowValidator

COMMA, QUOTE, CR, SPACE, DOT, ZERO, NINE = 44, 34, 13, 32, 46, 48, 57
QUOTE_BYTE = b'"'
# PostgreSQL's names of the encodings it can COPY from (the stream is then sent as the file has it)
PG_ENCODINGS = {"utf-8": "UTF8", "cp1252": "WIN1252", "iso8859-1": "LATIN1"}
_LOW_CARD_WIDTH = 24  # longer texts in those columns are not low-cardinality: careful path
_PAD = 128  # the widest window of bytes gathered per field (or run of fields)
_RUN_MEMO_LIMIT = 200_000  # distinct texts of a run of low-cardinality fields whose verdict is kept
# an order's header fields (stage_order_headers.sql: the lines of an order in a file agree on them),
# each gathered as it stands up to this many bytes (a longer one: its order is checked in SQL)
HEADER_WIDTHS = {"ORDERDATE": 32, "STATUS": 32, "CUSTOMERNAME": _PAD}


def special_bytes(codec: str) -> np.ndarray:
    """A 256-entry table: True for a byte that needs the careful path wherever it stands (control
    characters, and in a single-byte codec the bytes that do not decode or decode to a character that
    is not printable, like a no-break space). CR is marked too; one ending a line is allowed. LF is
    not: it separates the lines of a chunk."""
    table = np.zeros(256, dtype=bool)
    table[:32] = True
    table[10] = False  # LF: the line break, between the lines of a chunk
    table[127] = True
    if codecs.lookup(codec).name != "utf-8":
        for b in range(128, 256):
            try:
                table[b] = not bytes([b]).decode(codec).isprintable()
            except UnicodeDecodeError:
                table[b] = True
    return table


def _runs(positions: list[int]) -> list[list[int]]:
    """Sorted positions grouped into runs of adjacent ones: [1, 5, 6, 7, 11] -> [[1], [5, 6, 7], [11]]."""
    runs: list[list[int]] = []
    for p in sorted(positions):
        if runs and runs[-1][-1] == p - 1:
            runs[-1].append(p)
        else:
            runs.append([p])
    return runs


_MIX = np.uint64(0x9E3779B97F4A7C15)


def _row_hashes(b: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each row of a (n, width) uint8 array (width a multiple of 8)."""
    words = np.ascontiguousarray(b).view(np.uint64)
    h = np.zeros(words.shape[0], dtype=np.uint64)
    for j in range(words.shape[1]):
        h = h * _MIX + words[:, j]
    return h


def first_rows(b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct rows of a (n, width) uint8 array (width a multiple of 8), found by hash: for each
    row the number of its hash (``inverse``), each hash's first row (``first``), and whether the row
    is exactly its hash's first row (``same``: False only on a hash collision)."""
    inverse, uniques = pd.factorize(_row_hashes(b))
    first = np.empty(uniques.size, dtype=np.int64)
    first[inverse[::-1]] = np.arange(inverse.size)[::-1]
    words = np.ascontiguousarray(b).view(np.uint64)
    return inverse, first, (words == words[first[inverse]]).all(axis=1)


@dataclass(frozen=True)
class Screened:
    """The verdict on each line of a chunk: ``ok`` (COPY as it stands), ``blank`` (empty line), and for
    the ok lines (in line order) their order and line numbers and their order header's bytes;
    ``cr_lines``: how many lines of the chunk end in CR (a CR LF line break)."""

    ok: np.ndarray
    blank: np.ndarray
    orders: np.ndarray
    order_lines: np.ndarray
    cr_lines: int = 0
    headers: OrderHeaders | None = None  # of the ok lines


def _ragged_arange(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """concatenate([arange(s, s + c) for s, c in zip(starts, counts)]) without a Python loop."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(starts, counts) + (np.arange(total) - offsets)


@dataclass(frozen=True)
class OrderHeaders:
    """The header fields of some lines (HEADER_WIDTHS: date, status, customer), as they stand.

    ``rows``: per line, each field's first bytes (up to its HEADER_WIDTHS, zero-padded to the
    chunk's widest) and the fields' lengths, as 64-bit words: two lines of a chunk whose fields
    ``fit`` have equal rows exactly when their header texts are equal."""

    rows: np.ndarray
    fit: np.ndarray

    @classmethod
    def empty(cls) -> OrderHeaders:
        return cls(np.zeros((0, 1), dtype=np.uint64), np.zeros(0, dtype=bool))

    def take(self, which: np.ndarray) -> OrderHeaders:
        return OrderHeaders(self.rows[which], self.fit[which])

    def texts(self, which: np.ndarray) -> list[bytes]:
        """The header texts of lines ``which``, comparable across chunks: each row without its zero
        bytes (the padding; a line the fast path passes holds none, and no length is 0: the fields
        are required), which leaves the fields' bytes and then their lengths."""
        rows = self.rows[which]
        blob, width = rows.tobytes(), rows.shape[1] * 8
        return [blob[i : i + width].replace(b"\0", b"") for i in range(0, len(blob), width)]


class Screen:
    """The gate for one file: its codec, where each column stands in it, and the row rules' memory.

    Usable only when every column of the file is one of COLUMNS (an unknown column cannot be left out
    of a COPY): see :meth:`applies`.
    """

    def __init__(
        self,
        codec: str,
        positions: list[int | None],
        n_fields: int,
        validator: RowValidator,
        mixed: bool = False,
    ) -> None:
        self.codec = codec
        self.utf8 = codecs.lookup(codec).name == "utf-8"
        self.special = special_bytes(codec)
        if mixed:  # a legacy file with UTF-8 lines: every non-ASCII line is decoded the careful way
            self.special[128:] = True
        self.allowed = bytes(b for b in range(256) if not self.special[b])  # CR stays: counted below
        self.n_fields = n_fields
        self.validator = validator
        pos = {name: positions[POSITION[name]] for name in COLUMNS if positions[POSITION[name]] is not None}
        self.pos = pos
        self.required = [pos[c] for c in REQUIRED]
        # low-cardinality columns, in runs of adjacent fields: one distinct-text pass per run
        column_at = {pos[c]: POSITION[c] for c in REMEMBERED if c in pos}
        self.low_card_runs = [[(p, column_at[p]) for p in run] for run in _runs(list(column_at))]
        # the verdict on each distinct text of a run (by its first position), across the chunks
        self._run_verdicts: dict[int, dict[bytes, bool]] = {}
        self.order, self.line = pos["ORDERNUMBER"], pos["ORDERLINENUMBER"]
        self.price = pos["PRICEEACH"]
        self.sales = pos.get("SALES")
        self.product = pos["PRODUCTCODE"]

    @staticmethod
    def applies(positions: list[int | None], n_fields: int) -> bool:
        """Whether every field of the file's lines is one of COLUMNS (each at most once), SALES among
        them (without it the refresh computes SALES, which the careful rules bound)."""
        return (
            sorted(p for p in positions if p is not None) == list(range(n_fields))
            and positions[POSITION["SALES"]] is not None
        )

    # -- the passes ---------------------------------------------------------------------------
    def __call__(self, data: bytes, lines: list[bytes]) -> Screened:
        n = len(lines)
        a = np.frombuffer(data, dtype=np.uint8)
        # the bytes with room after the end, so that a window of up to _PAD bytes fits anywhere
        self._windows = np.lib.stride_tricks.sliding_window_view(
            np.concatenate([a, np.zeros(_PAD, dtype=np.uint8)]), _PAD
        )
        lens = np.fromiter(map(len, lines), dtype=np.int64, count=n)
        starts = np.zeros(n, dtype=np.int64)
        if n > 1:
            np.cumsum(lens[:-1] + 1, out=starts[1:])
        ends = starts + lens
        cr = np.zeros(n, dtype=bool)
        nonempty = lens > 0
        cr[nonempty] = a[ends[nonempty] - 1] == CR
        ends = ends - cr  # the content of each line, CR LF counted as the line break
        blank = ends == starts
        ok = ~blank

        # control and unprintable bytes anywhere but a line's final CR (a C-speed check first)
        n_cr = int(cr.sum())
        rest = data.translate(None, self.allowed)
        if len(rest) != n_cr or rest.count(b"\r") != len(rest):
            sp = np.flatnonzero(self.special[a])
            line_of = np.searchsorted(starts, sp, side="right") - 1
            final_cr = (a[sp] == CR) & (sp == ends[line_of])
            ok[line_of[~final_cr]] = False
        if self.utf8:  # a UTF-8 line must decode and be printable
            for k in np.flatnonzero(ok).tolist():
                line = lines[k]
                if not line.isascii():
                    try:
                        ok[k] = line[: ends[k] - starts[k]].decode("utf-8").isprintable()
                    except UnicodeDecodeError:
                        ok[k] = False

        # delimiters: commas outside quotes; a line with an odd number of quotes is not for us
        cpos = np.flatnonzero(a == COMMA)
        qpos = np.flatnonzero(a == QUOTE) if QUOTE_BYTE in data else np.zeros(0, dtype=np.int64)
        c_lo, c_hi = np.searchsorted(cpos, starts), np.searchsorted(cpos, ends)
        q_lo, q_hi = np.searchsorted(qpos, starts), np.searchsorted(qpos, ends)
        n_quotes = q_hi - q_lo
        ok &= n_quotes % 2 == 0
        quoted = ok & (n_quotes > 0)
        plain = ok & ~quoted & (c_hi - c_lo == self.n_fields - 1)
        delims = np.zeros((n, self.n_fields - 1), dtype=np.int64)
        if self.n_fields > 1:
            pl = np.flatnonzero(plain)
            delims[pl] = cpos[c_lo[pl, None] + np.arange(self.n_fields - 1)]
            qu = np.flatnonzero(quoted)
            if qu.size:
                counts = c_hi[qu] - c_lo[qu]
                cidx = _ragged_arange(c_lo[qu], counts)
                owner = np.repeat(np.arange(qu.size), counts)
                inside = (np.searchsorted(qpos, cpos[cidx]) - q_lo[qu][owner]) % 2 == 1
                real = cidx[~inside]
                real_owner = owner[~inside]
                per_line = np.bincount(real_owner, minlength=qu.size)
                complete = per_line == self.n_fields - 1
                delims[qu[complete]] = cpos[real[complete[real_owner]]].reshape(-1, self.n_fields - 1)
                plain[qu[complete]] = True
        ok &= plain
        rows = np.flatnonzero(ok)
        if rows.size == 0:
            empty = np.zeros(0, dtype=np.int64)
            return Screened(ok, blank, empty, empty, n_cr, OrderHeaders.empty())
        d = delims[rows]  # (m, n_fields - 1): the delimiters of the candidate lines
        line_start, line_end = starts[rows], ends[rows]
        good = np.ones(rows.size, dtype=bool)

        def bounds(p: int) -> tuple[np.ndarray, np.ndarray]:
            """Start and end (exclusive) of field ``p`` on every candidate line."""
            return (line_start if p == 0 else d[:, p - 1] + 1), (
                line_end if p == self.n_fields - 1 else d[:, p]
            )

        # Lines that need every field looked at: quoted ones (quotes around whole fields only, and
        # something inside), lines with a space by a comma, a quote or an end, lines longer than a
        # field may be (shorter ones cannot hold an over-long field).
        q_rows = quoted[rows]
        # a space by a comma anywhere in the line (", " or " ,"; a line's LF is neither)
        by_space = cpos[
            (a[np.minimum(cpos + 1, a.size - 1)] == SPACE) | (a[np.maximum(cpos - 1, 0)] == SPACE)
        ]
        spaced = np.zeros(n, dtype=bool)
        spaced[np.searchsorted(starts, by_space, side="right") - 1] = True
        suspect = spaced[rows]
        suspect |= (a[line_start] == SPACE) | (a[np.maximum(line_end - 1, 0)] == SPACE)
        full = np.flatnonzero(q_rows | suspect | (line_end - line_start > MAX_FIELD_LENGTH))
        was_quoted = np.zeros((rows.size, self.n_fields), dtype=bool)
        if full.size:
            fs = np.empty((full.size, self.n_fields), dtype=np.int64)
            fe = np.empty_like(fs)
            fs[:, 0], fe[:, -1] = line_start[full], line_end[full]
            fs[:, 1:], fe[:, :-1] = d[full] + 1, d[full]
            qf = np.searchsorted(qpos, fe) - np.searchsorted(qpos, fs)
            wrapped = (qf == 2) & (a[fs] == QUOTE) & (a[np.maximum(fe - 1, 0)] == QUOTE) & (fe - fs >= 3)
            good[full] &= ((qf == 0) | wrapped).all(axis=1)
            fs += wrapped
            fe -= wrapped
            was_quoted[full] = wrapped
            flen = fe - fs
            filled = flen > 0
            edge = (a[fs] == SPACE) | (a[np.maximum(fe - 1, 0)] == SPACE)
            good[full] &= ~(edge & filled).any(axis=1) & (flen <= MAX_FIELD_LENGTH).all(axis=1)

        def field(p: int) -> tuple[np.ndarray, np.ndarray]:
            """Start and length of field ``p`` as it stands, quotes included: the checks below are
            right on it (a quoted number fails them, a quoted low-cardinality text is left out,
            a quoted empty field was refused above, lengths only shrink inside quotes)."""
            fs_p, fe_p = bounds(p)
            return fs_p, fe_p - fs_p

        # required fields, product code
        for p in self.required:
            good &= field(p)[1] > 0
        good &= field(self.product)[1] <= MAX_PRODUCT_CODE_LENGTH

        # whole numbers and plain decimals
        orders, ok_o = self._whole(a, *field(self.order), 9)
        lines_no, ok_l = self._whole(a, *field(self.line), 4)
        good &= ok_o & ok_l & self._plain_decimal(a, *field(self.price), 8, required=True)
        # a line without SALES goes the careful way: the refresh computes it from QUANTITYORDERED x
        # PRICEEACH, and the rules check that the product fits order_lines.sales
        good &= self._plain_decimal(a, *field(self.sales), 10, required=True)

        # low-cardinality columns: per distinct text of each run of adjacent ones, as the rules say
        for run in self.low_card_runs:
            first, last = run[0][0], run[-1][0]
            alive = good & ~was_quoted[:, first : last + 1].any(axis=1)
            span_start, span_end = bounds(first)[0], bounds(last)[1]
            good &= self._known_runs(a, span_start, span_end - span_start, alive, run)

        ok[rows[~good]] = False
        keep = good
        return Screened(ok, blank, orders[keep], lines_no[keep], n_cr, self.headers(a, bounds, keep))

    def headers(self, a, bounds, keep) -> OrderHeaders:
        """The header fields of the ``keep`` lines as they stand (see :class:`OrderHeaders`)."""
        m = int(keep.sum())
        parts, fit = [], np.ones(m, dtype=bool)
        length_bytes = np.zeros((m, 8), dtype=np.uint8)
        for j, (name, cap) in enumerate(HEADER_WIDTHS.items()):
            fs, fe = bounds(self.pos[name])
            fs, flen = fs[keep], (fe - fs)[keep]
            fit &= flen <= cap
            shown = np.minimum(flen, cap)
            width = -(-int(shown.max(initial=1)) // 8) * 8  # as wide as this chunk needs
            parts.append(self._gather(a, fs, shown, width)[0])
            length_bytes[:, j] = np.minimum(flen, 255)
        rows = np.ascontiguousarray(np.concatenate([*parts, length_bytes], axis=1)).view(np.uint64)
        return OrderHeaders(rows, fit)

    def _gather(
        self, a: np.ndarray, fs: np.ndarray, flen: np.ndarray, width: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The first ``width`` (<= _PAD) bytes of each field, zeros past its end, and the mask of
        real bytes: one row copy per field out of a sliding window over the chunk."""
        inside = np.arange(width) < flen[:, None]
        return self._windows[fs, :width] * inside, inside

    def _whole(self, a, fs, flen, max_digits) -> tuple[np.ndarray, np.ndarray]:
        """Values and verdicts of fields that must be 1..max_digits digits without a leading zero."""
        width = max(1, min(int(flen.max()), max_digits))
        b, inside = self._gather(a, fs, flen, width)
        digits = (b >= ZERO) & (b <= NINE)
        good = (flen >= 1) & (flen <= max_digits) & (digits.sum(axis=1) == flen) & (b[:, 0] != ZERO)
        values = np.zeros(flen.size, dtype=np.int64)
        d = b.astype(np.int64) - ZERO
        for j in range(width):  # Horner, digit by digit
            values = np.where(inside[:, j], values * 10 + d[:, j], values)
        return values, good

    def _plain_decimal(self, a, fs, flen, max_int_digits, required) -> np.ndarray:
        """Digits with at most one point, 1..max_int_digits before it and at most 2 after: read alike by
        PostgreSQL and the rules; an empty optional field is NULL either way."""
        width = max(1, min(int(flen.max()), max_int_digits + 3))
        b, inside = self._gather(a, fs, flen, width)
        digits = ((b >= ZERO) & (b <= NINE) & inside).sum(axis=1)
        point = (b == DOT) & inside
        dots = point.sum(axis=1)
        dot_at = np.where(dots == 1, np.argmax(point, axis=1), flen)
        good = (flen <= width) & (digits + dots == flen) & (dots <= 1) & (dot_at >= 1)
        good &= (dot_at <= max_int_digits) & (flen - dot_at - 1 <= 2)
        if not required:
            good |= flen == 0
        return good

    def _known_runs(self, a, fs, span, alive, run) -> np.ndarray:
        """Whether the fields of ``run`` (adjacent (position, column) pairs) each stand as they are,
        decided once per distinct text of the run: the span from its first field's start to its last
        field's end, commas included."""
        verdict = np.zeros(span.size, dtype=bool)
        alive = alive & (span <= min(_LOW_CARD_WIDTH * len(run), _PAD))
        rows = np.flatnonzero(alive)
        if rows.size == 0:
            return verdict
        lengths = span[rows]
        width = -(-int(lengths.max()) // 8) * 8 or 8
        b, _ = self._gather(a, fs[rows], lengths, width)
        inverse, first, same = first_rows(b)  # each distinct text's first row
        same &= lengths == lengths[first[inverse]]  # exact: no hash collision
        ok_u = np.zeros(first.size, dtype=bool)
        memo = self._run_verdicts.setdefault(run[0][0], {})
        for u, r in enumerate(first.tolist()):
            span_bytes = bytes(b[r, : lengths[r]])
            known = memo.get(span_bytes)
            if known is None:
                known = self._run_verdict(span_bytes, run)
                if len(memo) < _RUN_MEMO_LIMIT:
                    memo[span_bytes] = known
            ok_u[u] = known
        verdict[rows] = ok_u[inverse] & same
        return verdict

    def _run_verdict(self, span_bytes: bytes, run) -> bool:
        """Whether each field of a run's text (its fields' bytes, commas included) stands as it is."""
        try:
            texts = span_bytes.decode(self.codec).split(",")
        except UnicodeDecodeError:
            return False
        return len(texts) == len(run) and all(
            self.validator.stands_as_is(column, text) for (_, column), text in zip(run, texts, strict=True)
        )

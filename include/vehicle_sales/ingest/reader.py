"""Reading an export as the user sees it: physical lines, in chunks, and the records they form.

The unit of accounting is the physical line (what ``wc -l`` counts, what an editor numbers): line 1
is the header, every later line is read, and each ends up loaded, duplicate, rejected or blank. A
record is one line, or several when a quoted field holds a line break; it is then accounted for as
all of its lines.

* :func:`read_header` reads line 1 (the column names) and says where the data starts;
* :class:`ChunkReader` yields the data lines in chunks of whole lines (CHUNK_BYTES: the fast path
  screens a chunk with numpy, the rest of it goes record by record);
* :func:`group_record` finds the lines a record starting at a given line spans, or says its quote
  is not closed.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from vehicle_sales.common.errors import BadExportError

# Python screens a chunk while PostgreSQL copies the one before: the smaller the chunk, the less of
# the file one side spends waiting for the other (the first chunk, the last COPY), and the more of
# numpy's passes stay in the CPU's cache; each chunk costs a call of the gate (about half a
# millisecond). 512 KiB (about 2,600 lines of the sample) against 2 MiB, routing 100,000 lines: 0.25
# against 0.29-0.31 s (Python's CPU 0.24 against 0.26 s); 1M lines: 2.3 against 2.47 s; 256 KiB and
# 128 KiB cost more calls than they save (0.28-0.29 s and 0.37 s). A record longer than a chunk (up
# to MAX_RECORD_BYTES) is given back and comes again with the next block (ChunkReader.give_back).
CHUNK_BYTES = 512 << 10
MAX_RECORD_LINES = 100  # a quoted field may hold line breaks, but no record spans more lines than this
MAX_RECORD_BYTES = 1 << 20
MAX_HEADER_BYTES = 4 << 20  # line 1 is column names: longer than this, it is not a header
# the csv module's default field limit (128 KiB) would crash on a long field; records are limited
# by MAX_RECORD_BYTES instead (a longer one is a reject with its size), fields by the row rules
csv.field_size_limit(max(csv.field_size_limit(), MAX_RECORD_BYTES + 1))


@dataclass(frozen=True)
class Header:
    fields: list[str]
    data_offset: int  # byte offset of line 2
    text: str  # line 1 as decoded


_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


def wide_encoding(head: bytes) -> str | None:
    """'UTF-16' or 'UTF-32' when the file starts with such a byte order mark, or its first line is
    ASCII interleaved with NUL bytes (UTF-16 without a mark); None for a byte-oriented file."""
    for bom, name in _WIDE_BOMS:
        if head.startswith(bom):
            return name
    sample = head[:200]
    if len(sample) >= 8 and sample.count(0) * 4 >= len(sample):
        return "UTF-16" if sample.count(0) * 4 < len(sample) * 3 - 8 else "UTF-32"
    return None


def read_header(path: Path, codec: str) -> Header:
    """Line 1 of the export (BadExportError when the file is empty, is UTF-16/32, has no line break
    but carriage returns, or line 1 does not decode)."""
    with open(path, "rb") as fh:
        head = fh.read(1 << 20)
        while b"\n" not in head and len(head) < MAX_HEADER_BYTES:
            more = fh.read(1 << 20)
            if not more:
                break
            head += more
    if not head.strip():
        raise BadExportError(f"the export {path.name} is empty (no header, no rows)")
    wide = wide_encoding(head)
    if wide:
        raise BadExportError(
            f"the export {path.name} is encoded in {wide} (two or four bytes per character): save it as "
            "a UTF-8 (or Windows-1252) CSV and ingest it again; nothing was staged"
        )
    end = head.find(b"\n")
    first = head if end < 0 else head[:end]
    offset = len(head) if end < 0 else end + 1
    if codecs.lookup(codec).name == "utf-8" and first.startswith(codecs.BOM_UTF8):
        first = first[len(codecs.BOM_UTF8) :]
    if end < 0 and len(head) >= MAX_HEADER_BYTES and b"\r" not in head:
        raise BadExportError(
            f"line 1 of {path.name} is longer than {MAX_HEADER_BYTES >> 20} MB without a line break: "
            "it is not a header of column names"
        )
    if b"\r" in first.rstrip(b"\r"):
        n_cr = first.rstrip(b"\r").count(b"\r") + 1
        raise BadExportError(
            f"the lines of {path.name} end in a carriage return only (classic Mac line endings): the "
            f"first line holds {n_cr} lines' worth of text. Convert the line endings "
            "to LF or CRLF and ingest it again; nothing was staged"
        )
    try:
        text = first.decode(codec).rstrip("\r")
    except UnicodeDecodeError as exc:
        raise BadExportError(
            f"the header of {path.name} does not decode as {codec}: {exc}. Set the Variable "
            "sales_source_encoding to the export's encoding"
        ) from None
    try:
        fields = next(csv.reader([text], strict=False), [])
    except csv.Error as exc:
        raise BadExportError(f"the header of {path.name} is not a CSV line: {exc}") from None
    return Header(fields, offset, text)


@dataclass
class Chunk:
    """Whole physical lines of the file: ``lines[k]`` is line ``first_line + k`` without its LF (a CR
    before the LF stays: :func:`strip_cr`)."""

    data: bytes
    lines: list[bytes]
    first_line: int

    def __len__(self) -> int:
        return len(self.lines)


def split_lines(data: bytes) -> list[bytes]:
    """The physical lines of ``data`` without their LF (a final LF ends the last line)."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def strip_cr(line: bytes) -> bytes:
    return line[:-1] if line[-1:] == b"\r" else line


class ChunkReader:
    """The data lines from byte ``offset`` on, in chunks of about ``chunk_bytes`` cut at line breaks.

    A consumer that finds a record still open at the end of a chunk calls :meth:`give_back` with the
    number of lines it did not take: they come again at the start of the next chunk.
    """

    def __init__(self, path: Path, offset: int, first_line: int = 2, chunk_bytes: int = CHUNK_BYTES) -> None:
        self._fh = open(path, "rb")  # noqa: SIM115 - closed by close() / the context manager
        self._size = os.fstat(self._fh.fileno()).st_size
        self._fh.seek(offset)
        self._chunk_bytes = chunk_bytes
        self._pending = b""
        self._eof = False
        self._line = first_line
        self._last: Chunk | None = None

    def __enter__(self) -> ChunkReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._fh.close()

    def __iter__(self) -> Iterator[Chunk]:
        while (chunk := self.read()) is not None:
            yield chunk

    def read(self) -> Chunk | None:
        data = self._pending
        while True:
            if self._eof:
                cut = len(data)
                break
            block = self._fh.read(self._chunk_bytes)
            if not block:
                self._eof = True
                continue
            data += block
            cut = data.rfind(b"\n") + 1
            if cut:  # else a line longer than a chunk: read on
                break
        body, self._pending = data[:cut], data[cut:]
        if not body:
            return None
        self._last = Chunk(body, split_lines(body), self._line)
        self._line += len(self._last.lines)
        return self._last

    @property
    def exhausted(self) -> bool:
        """Whether the chunk just read was the last one."""
        return self._eof and not self._pending

    @property
    def more(self) -> bool:
        """Whether the file holds more than the chunks read so far (lines given back aside)."""
        return bool(self._pending) or (not self._eof and self._fh.tell() < self._size)

    def give_back(self, n: int) -> None:
        """The last ``n`` lines of the chunk just read start the next chunk."""
        if n <= 0 or self._last is None:
            return
        lines = self._last.lines
        self._pending = b"\n".join(lines[len(lines) - n :]) + b"\n" + self._pending
        self._line -= n
        self._last.lines = lines[: len(lines) - n]


BARE_CR = "a carriage return (CR) stands inside an unquoted field: the line is not one CSV record"


def parse_record(text: str) -> list[str] | None:
    """The fields of one line's text; None when it is not one record (a bare CR outside quotes: the
    csv module would raise on it). A CR inside a quoted field is kept as data."""
    try:
        return next(csv.reader([text], strict=False), [])
    except csv.Error:
        records = list(csv.reader(io.StringIO(text, newline=""), strict=False))
        return records[0] if len(records) == 1 else None


def quote_parity(line: bytes) -> int:
    return line.count(b'"') % 2


@dataclass(frozen=True)
class Grouped:
    """The record found at a line: its fields and the number of physical lines it spans. ``fields``
    is None when its quote does not close into one record within the limits (the line then stands
    alone), and ``more`` says that the chunk ended before it could be told."""

    fields: list[str] | None
    n_lines: int
    text: str
    more: bool = False
    reason: str | None = None  # why fields is None, when it is not an unbalanced quote


def group_record(lines: list[bytes], k: int, decode, final: bool = True) -> Grouped:
    """The record starting at ``lines[k]``: this line when its quotes balance, else the lines up to the
    one that closes the quoted field, if the joined text is one CSV record.

    ``decode`` turns a line (CR stripped) into text, raising UnicodeDecodeError. The line breaks
    inside a quoted field are kept as they were (CR LF or LF). When the lines end before the quote
    could close and ``final`` is false, the answer is ``more``: ask again with the next chunk.
    """
    first = decode(strip_cr(lines[k]))
    if len(lines[k]) > MAX_RECORD_BYTES:
        return Grouped(
            None, 1, first, reason=f"the line is {len(lines[k]):,} bytes long (limit {MAX_RECORD_BYTES:,})"
        )
    if quote_parity(lines[k]) == 0:
        fields = parse_record(first)
        return Grouped(fields, 1, first, reason=None if fields is not None else BARE_CR)
    parts = [first]
    parity, size = 1, len(lines[k])
    last = min(len(lines), k + MAX_RECORD_LINES)
    for j in range(k + 1, last):
        try:
            parts.append(decode(strip_cr(lines[j])))
        except UnicodeDecodeError:
            return Grouped(None, 1, first)
        size += len(lines[j])
        parity ^= quote_parity(lines[j])
        if size > MAX_RECORD_BYTES:
            return Grouped(None, 1, first)
        if parity == 0:
            text = "".join(
                p + ("\r\n" if lines[k + i].endswith(b"\r") else "\n") for i, p in enumerate(parts[:-1])
            )
            text += parts[-1]
            records = list(csv.reader(io.StringIO(text, newline=""), strict=False))
            if len(records) == 1:
                return Grouped(records[0], j - k + 1, text)
            return Grouped(None, 1, first)
    if not final and last == len(lines) and last < k + MAX_RECORD_LINES:
        return Grouped(None, 1, first, more=True)
    return Grouped(None, 1, first)

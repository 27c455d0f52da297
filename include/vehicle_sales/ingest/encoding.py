"""Which text encoding an export was written in, decided by evidence.

Exports arrive as UTF-8 (with or without BOM), Windows-1252, DOS code page 850 or Latin-1. The
candidates are a small closed set, and on short Western European texts general-purpose detectors
(charset-normalizer, chardet) often confuse cp1252/cp850/latin-1, so we score the candidates on
the words that contain non-ASCII bytes: a right decoding yields ordinary letters inside words
("Berguvsvägen"); a wrong one yields symbols, box-drawing or control characters, or capitals in
the middle of lowercase words ("Berguvsv├ñgen", "BerguvsvÕgen", "Rambla de Catalu±a").
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vehicle_sales.common.errors import ConfigError
from vehicle_sales.ingest.screen import first_rows

CANDIDATES = ("utf-8", "cp1252", "cp850", "latin-1")
SUPPORTED_OVERRIDES_HINT = "utf-8, utf-8-sig, cp1252, cp850, latin-1 or any Python codec name"

# letters that occur in the Western European names and addresses these exports carry
_COMMON_LETTERS = set("àáâãäåæçèéêëìíîïñòóôöøùúûüýÿßœšžÀÁÂÄÅÆÇÈÉÊËÌÍÎÏÑÒÓÔÖØÙÚÛÜÝŒŠŽ")
_WORD_WITH_HIGH_BYTES = re.compile(rb"[A-Za-z\x80-\xff]*[\x80-\xff][A-Za-z\x80-\xff]*")  # what a word is
_WORD_BYTE = np.zeros(256, dtype=bool)  # the bytes of such words: ASCII letters, bytes >= 0x80
_WORD_BYTE[[*range(65, 91), *range(97, 123), *range(128, 256)]] = True
_MAX_WORDS = 20_000
_SHORT_WORD = 32  # bytes: words up to this long are told apart in numpy (a multiple of 8)


@dataclass(frozen=True)
class EncodingChoice:
    codec: str
    reason: str
    mixed: bool = False  # a legacy file that also holds UTF-8 lines: staging decodes per line

    def __str__(self) -> str:
        return f"{self.codec} ({self.reason})"


# typographic punctuation a legacy Windows export carries (cp1252 0x80-0x9f): quotes, dashes, ellipsis,
# bullet, euro; decoded as DOS 850 the same bytes are letters (æÆôöòûù...) in odd places
_TYPOGRAPHIC = set("\u2018\u2019\u201a\u201c\u201d\u201e\u2013\u2014\u2026\u2022\u20ac")


def _char_score(prev: str, ch: str, nxt: str) -> int:
    """Evidence one decoded non-ASCII character gives for its decoding."""
    if ch in _TYPOGRAPHIC:
        return 2  # "d’Or", "“Mini”", " – ": what those bytes are in a Windows export
    cat = unicodedata.category(ch)
    if cat.startswith("L"):
        if ch.isupper() and prev.islower():
            return -2  # capital inside a lowercase word: "BerguvsvÕgen"
        if ch.islower() and nxt.isupper():
            return -2  # lowercase before a capital: "ôMiniö" (cp850 for “Mini”)
        if not prev.isalpha() and not nxt.isalpha():
            return -2  # a letter standing alone: " û " (cp850 for " – ")
        return 2 if ch in _COMMON_LETTERS else 0
    if cat in ("Cc", "Cn", "Co") or "\u2500" <= ch <= "\u259f":
        return -4  # control, unassigned, box-drawing or block characters
    if prev.isalpha() and nxt.isalpha():
        return -3  # punctuation or a symbol in the middle of a word: "Catalu±a"
    return -1


def score_decoding(words: list[bytes], codec: str) -> int | None:
    """Sum of evidence for ``codec`` over ``words``; None when a word does not decode at all."""
    total = 0
    for word in words:
        try:
            text = word.decode(codec)
        except UnicodeDecodeError:
            return None
        for i, ch in enumerate(text):
            if ord(ch) < 128:
                continue
            prev = text[i - 1] if i else " "
            nxt = text[i + 1] if i + 1 < len(text) else " "
            total += _char_score(prev, ch, nxt)
    return total


def _word_bounds(a: np.ndarray, windows: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) of the word around each high byte of ``a``: the nearest byte on each
    side that is not a word byte. Looked for within _SHORT_WORD bytes of it, in ``windows`` (see
    :func:`_windows`: a zero pads the data's edges, and is no word byte); when a word goes on further,
    in all the bytes."""
    w = _SHORT_WORD
    word = _WORD_BYTE[windows[high]]  # a[h - w : h + w + 1] for each high byte h
    left, right = ~word[:, w - 1 :: -1], ~word[:, w + 1 :]  # the bytes before h, nearest first; after h
    if left.any(axis=1).all() and right.any(axis=1).all():
        return high - np.argmax(left, axis=1), high + 1 + np.argmax(right, axis=1)
    gaps = np.flatnonzero(~_WORD_BYTE[a])  # the bytes that end a word
    k = np.searchsorted(gaps, high)
    padded = np.concatenate([[-1], gaps, [a.size]])  # a word may start the data or end it
    return padded[k] + 1, padded[k + 1]


def _windows(a: np.ndarray) -> np.ndarray:
    """Row i: the 2 * _SHORT_WORD + 1 bytes of ``a`` from i - _SHORT_WORD, zeros past its edges."""
    w = _SHORT_WORD
    padded = np.concatenate([np.zeros(w, dtype=np.uint8), a, np.zeros(w, dtype=np.uint8)])
    return np.lib.stride_tricks.sliding_window_view(padded, 2 * w + 1)


def high_byte_words(data: bytes, limit: int = _MAX_WORDS) -> list[bytes]:
    """Distinct words of ``data`` that contain a byte >= 0x80 (at most ``limit``), in the order they
    first occur: each maximal run of ASCII letters and high bytes around a high byte.

    Found with numpy (the high bytes, then the nearest non-letter on each side, then each distinct
    word once) rather than by the equivalent regular expression (:data:`_WORD_WITH_HIGH_BYTES`),
    which tries every position inside every word: about 2 ms a megabyte of an export (the
    expression: 40 ms). Detection reads up to about 10 MB of a large export: a fixed cost of
    staging."""
    a = np.frombuffer(data, dtype=np.uint8)
    high = np.flatnonzero(a >= 0x80)
    if high.size == 0:
        return []
    windows = _windows(a)
    starts, ends = _word_bounds(a, windows, high)
    first = np.ones(starts.size, dtype=bool)
    first[1:] = starts[1:] != starts[:-1]  # one entry per word occurrence
    starts, ends = starts[first], ends[first]
    # an export repeats its words: keep each short word's first occurrence (by a hash of its bytes,
    # padded with zeros, which no word holds; then compared exactly: a word whose hash another word
    # has is kept too), so that the loop below sees each distinct word about once instead of every
    # occurrence (5,000 a megabyte)
    lengths = ends - starts
    short = np.flatnonzero(lengths <= _SHORT_WORD)
    if short.size:
        head = windows[starts[short], _SHORT_WORD:-1]  # the _SHORT_WORD bytes from each start
        padded = head * (np.arange(_SHORT_WORD) < lengths[short, None])
        _, firsts, same = first_rows(padded)
        keep = np.ones(starts.size, dtype=bool)
        keep[short[same]] = False
        keep[short[firsts]] = True
        starts, ends = starts[keep], ends[keep]
    seen: dict[bytes, None] = {}
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        seen.setdefault(data[start:end], None)
        if len(seen) >= limit:
            break
    return list(seen)


def detect_encoding(data: bytes) -> EncodingChoice:
    """Choose the codec of ``data`` (the file's bytes, or a large leading part of them)."""
    if data.startswith(codecs.BOM_UTF8):
        return EncodingChoice("utf-8-sig", "UTF-8 byte order mark")
    words = high_byte_words(data)
    if not words:
        return EncodingChoice("utf-8", "plain ASCII: every candidate decodes it identically")
    try:
        b"\n".join(words).decode("utf-8")
        return EncodingChoice("utf-8", f"valid UTF-8 with {len(words)} words containing non-ASCII letters")
    except UnicodeDecodeError:
        pass
    # words that are UTF-8 (multi-byte sequences) next to words that are not: a mixed file
    utf8_words = [w for w in words if _is_utf8(w)]
    legacy_words = [w for w in words if not _is_utf8(w)]
    scores = {c: score_decoding(legacy_words, c) for c in CANDIDATES if c != "utf-8"}
    valid = {c: s for c, s in scores.items() if s is not None}
    # ties go to the earlier candidate: cp1252 is a superset of latin-1's printable range
    best = max(valid, key=lambda c: (valid[c], -CANDIDATES.index(c)))
    detail = ", ".join(f"{c}={s}" for c, s in scores.items())
    if utf8_words and score_decoding(utf8_words, "utf-8") > (score_decoding(utf8_words, best) or 0):
        return EncodingChoice(
            best,
            f"mixed: {len(legacy_words)} non-ASCII words in {best} (scores {detail}) and {len(utf8_words)} "
            "in UTF-8; each line is decoded as UTF-8 where it is valid UTF-8",
            mixed=True,
        )
    return EncodingChoice(best, f"detected from {len(words)} non-ASCII words; scores {detail}")


def _is_utf8(word: bytes) -> bool:
    try:
        word.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


_BLOCK = 1 << 20
_SATURATED_BLOCKS = 8  # this many blocks in a row without a new word: the evidence is all in


def read_for_detection(path: Path, max_bytes: int = 64 * 1024 * 1024) -> bytes:
    """The bytes detection looks at: the file up to ``max_bytes``, in 1 MB blocks, until the words with
    non-ASCII bytes stop bringing anything new (an export repeats its names and cities: the first few
    MB hold the evidence, and a 200 MB export needs no full read). Blocks of plain ASCII are skipped
    at C speed. The returned bytes hold every distinct such word found, one per line."""
    seen: dict[bytes, None] = {}
    quiet, read, carry = 0, 0, b""
    with open(path, "rb") as fh:
        while read < max_bytes and quiet < _SATURATED_BLOCKS and len(seen) < _MAX_WORDS:
            more = fh.read(_BLOCK)
            read += len(more)
            data = carry + more
            cut = data.rfind(b"\n") + 1 if more else len(data)  # whole lines: no word cut in two
            block, carry = (data[:cut], data[cut:]) if cut else (data, b"")
            if not block:
                break
            if block.isascii():
                continue
            before = len(seen)
            for word in high_byte_words(block, _MAX_WORDS - len(seen)):
                seen.setdefault(word, None)
            quiet = quiet + 1 if len(seen) == before else 0
    return b"\n".join(seen)


def choose_encoding(path: Path, override: str | None) -> EncodingChoice:
    """The configured codec (Variable sales_source_encoding) or the detected one."""
    if override and override.strip().lower() not in ("", "auto"):
        name = override.strip()
        try:
            codecs.lookup(name)
        except LookupError:
            raise ConfigError(
                f"sales_source_encoding {name!r} is not a known codec: set the Variable to 'auto' or "
                f"one of {SUPPORTED_OVERRIDES_HINT}"
            ) from None
        if name.lower().replace("_", "-") in ("utf-8", "utf8") and path.read_bytes()[:3] == codecs.BOM_UTF8:
            name = "utf-8-sig"
        return EncodingChoice(name, "set by Variable sales_source_encoding")
    return detect_encoding(read_for_detection(path))

"""Fetch the raw export: the bundled sample, a local path, or an http(s) URL.

A URL is streamed with retries (429/5xx, connection errors; Retry-After honoured), timeouts and an
atomic write (temporary file + rename), into a content-addressed file ``<sha256>.csv``. Every
source is fingerprinted (sha256, size, CSV record count) so an already-ingested file is a no-op.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from vehicle_sales.common import sql
from vehicle_sales.common.errors import SourceNotFoundError
from vehicle_sales.common.paths import SAMPLE_CSV

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class SourceSpec:
    kind: str  # "sample" | "path" | "url"
    location: str

    @property
    def display(self) -> str:
        return redact_url(self.location) if self.kind == "url" else self.location


@dataclass(frozen=True)
class FetchedFile:
    path: Path
    source_uri: str
    sha256: str
    size_bytes: int
    lines: int = 0  # data lines (after the header)


def parse_source(value: str | None) -> SourceSpec:
    """Interpret the Variable/Param ``sales_source``: unset or 'sample' means the bundled sample."""
    value = (value or "").strip()
    if value in ("", "sample"):
        return SourceSpec("sample", str(SAMPLE_CSV))
    scheme = urlsplit(value).scheme.lower()
    if scheme in ("http", "https"):
        return SourceSpec("url", value)
    if scheme == "file":
        return SourceSpec("path", urlsplit(value).path)
    return SourceSpec("path", os.path.expanduser(value))


def redact_url(url: str) -> str:
    """The URL without credentials or query string (signed URLs carry tokens there)."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class LineCounter:
    """Counts the physical lines of a byte stream fed in pieces (a last line without LF counts)."""

    def __init__(self) -> None:
        self.breaks = 0
        self.size = 0
        self.last = b"\n"

    def update(self, chunk: bytes) -> None:
        if chunk:
            self.breaks += chunk.count(b"\n")
            self.size += len(chunk)
            self.last = chunk[-1:]

    @property
    def data_lines(self) -> int:
        """Lines after the header (line 1), blank ones included: what a user counts in an editor."""
        total = self.breaks + (0 if self.size == 0 or self.last == b"\n" else 1)
        return max(total - 1, 0)


def fingerprint(path: Path) -> tuple[str, int, int]:
    """sha256, size in bytes and data lines of a file, in one pass."""
    digest, lines = hashlib.sha256(), LineCounter()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            lines.update(chunk)
    return digest.hexdigest(), lines.size, lines.data_lines


def sha256_of(path: Path) -> tuple[str, int]:
    sha, size, _ = fingerprint(path)
    return sha, size


def count_lines(path: Path) -> int:
    """The data lines of a file (physical lines after the header, blank ones included)."""
    return fingerprint(path)[2]


def _session(retries: int):
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    retry = Retry(
        total=retries,
        backoff_factor=float(os.environ.get("VSR_DOWNLOAD_BACKOFF", "1.0")),
        backoff_jitter=0.5,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=frozenset({"GET"}),
        respect_retry_after_header=True,
        raise_on_status=True,
    )
    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    return session


@dataclass(frozen=True)
class Limits:
    """How long a download may take in all and how large it may grow (Variables
    sales_download_timeout, sales_download_max_mb): a source that drips bytes, or never ends, fails
    with a message instead of holding a worker."""

    seconds: float = 600.0
    max_bytes: int = 2048 << 20


def download_url(
    url: str,
    dest_dir: Path,
    retries: int = 5,
    timeout: tuple[float, float] = (10, 60),
    limits: Limits = Limits(),  # noqa: B008 - frozen
) -> FetchedFile:
    """Stream ``url`` into ``dest_dir/<sha256>.csv`` atomically, within ``limits``."""
    import requests

    dest_dir.mkdir(parents=True, exist_ok=True)
    shown = redact_url(url)
    digest, lines = hashlib.sha256(), LineCounter()
    fd, tmp_name = tempfile.mkstemp(prefix=".download-", dir=dest_dir)
    deadline = time.monotonic() + limits.seconds
    try:
        try:
            with _session(retries) as session, session.get(url, stream=True, timeout=timeout) as resp:
                if resp.status_code == 404:
                    raise SourceNotFoundError(
                        f"sales_source {shown} answered 404 Not Found: set the Variable sales_source to a "
                        "readable path or URL"
                    )
                resp.raise_for_status()
                # read1: whatever has arrived (a full-chunk read of a dripping stream would block
                # past any deadline); the deadline and the size cap are checked after every read
                with os.fdopen(fd, "wb") as out:
                    while chunk := resp.raw.read1(CHUNK, decode_content=True):
                        out.write(chunk)
                        digest.update(chunk)
                        lines.update(chunk)
                        if lines.size > limits.max_bytes:
                            raise SourceNotFoundError(
                                f"downloading {shown}: more than {limits.max_bytes >> 20} MB, the limit "
                                "(Variable sales_download_max_mb): is this the export?"
                            )
                        if time.monotonic() > deadline:
                            raise SourceNotFoundError(
                                f"downloading {shown} took longer than {limits.seconds:.0f} s in all "
                                f"({lines.size:,} bytes by then; Variable sales_download_timeout): the "
                                "server is too slow or the stream never ends"
                            )
        except requests.RequestException as exc:
            # the exception text may hold the full URL; say what failed without it
            raise OSError(
                f"downloading {shown} failed after {retries} retries: {type(exc).__name__}"
            ) from None
        final = dest_dir / f"{digest.hexdigest()}.csv"
        os.replace(tmp_name, final)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    log.info("downloaded %s: %d bytes -> %s", shown, lines.size, final)
    return FetchedFile(final, shown, digest.hexdigest(), lines.size, lines.data_lines)


def allowed_roots(download_dir: Path, configured: tuple[Path, ...] | None = None) -> tuple[Path, ...]:
    """The folders a local source may come from: the Variable sales_source_roots, or by default the
    bundled data folder and the download folder; symlinks resolved."""
    roots = configured if configured else (SAMPLE_CSV.parent, download_dir)
    return tuple(Path(r).expanduser().resolve() for r in roots)


def confine(spec: SourceSpec, roots: tuple[Path, ...]) -> Path:
    """The real path of a local source, if it lies under one of ``roots`` (a symlink counts where it
    points); SourceNotFoundError otherwise, naming neither the file's content nor its first line."""
    real = Path(spec.location).expanduser().resolve()
    if not any(real == root or root in real.parents for root in roots):
        raise SourceNotFoundError(
            f"sales_source {spec.location!r} is outside the folders a local export may come from "
            f"({', '.join(str(r) for r in roots)}): put the export in one of them, or list its folder "
            "in the Variable sales_source_roots"
        )
    return real


def fetch(
    spec: SourceSpec,
    download_dir: Path,
    roots: tuple[Path, ...] | None = None,
    limits: Limits = Limits(),  # noqa: B008 - frozen
) -> FetchedFile:
    """Make the source available as a local file and fingerprint it. A local path must lie under
    ``roots`` (default :func:`allowed_roots`)."""
    if spec.kind == "url":
        return download_url(spec.location, download_dir, limits=limits)
    path = confine(spec, allowed_roots(download_dir) if roots is None else roots)
    if not path.is_file():
        raise SourceNotFoundError(
            f"sales_source {spec.location!r} not found: set the Variable sales_source to a readable path or URL"
        )
    digest, size, lines = fingerprint(path)
    return FetchedFile(Path(spec.location), spec.location, digest, size, lines)


def local_copy(
    spec: SourceSpec,
    download_dir: Path,
    path: Path,
    sha256: str,
    roots: tuple[Path, ...] | None = None,
    limits: Limits = Limits(),  # noqa: B008 - frozen
) -> tuple[Path, bool]:
    """The file ``download_raw`` fingerprinted, on this machine: ``path`` when it is here with the
    same content, else fetched again from the source into ``download_dir`` (a Celery worker other
    than the one that ran ``download_raw``, whose download folder is its own) and checked against
    ``sha256``. Returns (path, fetched_again). SourceNotFoundError when the source itself changed
    in between: the run must start over from ``download_raw``."""
    if path.is_file() and sha256_of(path)[0] == sha256:
        return path, False
    return fetch_again(spec, download_dir, sha256, roots, limits), True


def fetch_again(
    spec: SourceSpec,
    download_dir: Path,
    sha256: str,
    roots: tuple[Path, ...] | None = None,
    limits: Limits = Limits(),  # noqa: B008 - frozen
) -> Path:
    """The source fetched again into ``download_dir`` (the copy at hand is missing or not the file
    download_raw fingerprinted), checked against ``sha256``: SourceNotFoundError when the source
    itself changed in between."""
    again = fetch(spec, download_dir, roots, limits)
    if again.sha256 != sha256:
        raise SourceNotFoundError(
            f"{spec.display} changed since download_raw fingerprinted it (sha256 {sha256[:12]} then, "
            f"{again.sha256[:12]} now): clear download_raw to ingest the new content"
        )
    return again.path


@dataclass(frozen=True)
class RegisteredFile:
    file_id: int
    already_staged: bool
    staged_at: str | None


def register(
    conn: psycopg.Connection, fetched: FetchedFile, row_count: int, airflow_run_id: str
) -> RegisteredFile:
    """Record the file in ``source_files`` (once per content) and say whether it was staged already."""
    file_id, staged_at = sql.run(
        conn,
        "ingest/register_file.sql",
        {
            "source_uri": fetched.source_uri,
            "sha256": fetched.sha256,
            "size_bytes": fetched.size_bytes,
            "row_count": row_count,
            "airflow_run_id": airflow_run_id,
        },
    ).fetchone()
    conn.commit()
    return RegisteredFile(file_id, staged_at is not None, staged_at.isoformat() if staged_at else None)

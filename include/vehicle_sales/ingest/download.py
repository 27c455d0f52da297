"""Fetch the raw export: the bundled sample, a local path, or an http(s) URL.

A URL is streamed with retries (429/5xx, connection errors; Retry-After honoured), timeouts and an
atomic write (temporary file + rename), into a content-addressed file ``<sha256>.csv``. Every
source is fingerprinted (sha256, size, CSV record count) so an already-ingested file is a no-op.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import os
import tempfile
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


def sha256_of(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def count_records(path: Path) -> int:
    """Data records (CSV rows after the header, blank lines not counted).

    Decoding as latin-1 never fails and keeps every ASCII byte, and the CSV structure (commas,
    quotes, newlines) is ASCII in all the encodings we accept, so the count is right for any of them.
    """
    with open(path, encoding="latin-1", newline="") as fh:
        n = sum(1 for row in csv.reader(fh) if row)
    return max(n - 1, 0)


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


def download_url(
    url: str, dest_dir: Path, retries: int = 5, timeout: tuple[float, float] = (10, 60)
) -> FetchedFile:
    """Stream ``url`` into ``dest_dir/<sha256>.csv`` atomically."""
    import requests

    dest_dir.mkdir(parents=True, exist_ok=True)
    shown = redact_url(url)
    digest, size = hashlib.sha256(), 0
    fd, tmp_name = tempfile.mkstemp(prefix=".download-", dir=dest_dir)
    try:
        try:
            with _session(retries) as session, session.get(url, stream=True, timeout=timeout) as resp:
                if resp.status_code == 404:
                    raise SourceNotFoundError(
                        f"sales_source {shown} answered 404 Not Found: set the Variable sales_source to a "
                        "readable path or URL"
                    )
                resp.raise_for_status()
                with os.fdopen(fd, "wb") as out:
                    for chunk in resp.iter_content(CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        size += len(chunk)
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
    log.info("downloaded %s: %d bytes -> %s", shown, size, final)
    return FetchedFile(final, shown, digest.hexdigest(), size)


def fetch(spec: SourceSpec, download_dir: Path) -> FetchedFile:
    """Make the source available as a local file and fingerprint it."""
    if spec.kind == "url":
        return download_url(spec.location, download_dir)
    path = Path(spec.location)
    if not path.is_file():
        raise SourceNotFoundError(
            f"sales_source {str(path)!r} not found: set the Variable sales_source to a readable path or URL"
        )
    digest, size = sha256_of(path)
    return FetchedFile(path, str(path), digest, size)


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

"""download_raw: path, URL (real HTTP with faults), fingerprint, already-ingested no-op."""

from __future__ import annotations

import hashlib
import http.server
import threading
import time

import pytest

from support import ingest, row, write_csv
from vehicle_sales.common.errors import SourceNotFoundError
from vehicle_sales.common.paths import SAMPLE_CSV
from vehicle_sales.ingest.download import (
    FetchedFile,
    count_lines,
    download_url,
    fetch,
    fingerprint,
    local_copy,
    parse_source,
    redact_url,
    register,
    sha256_of,
)


class _Handler(http.server.BaseHTTPRequestHandler):
    body = b""
    faults: list[int] = []
    seen: list[str] = []

    def do_GET(self):  # noqa: N802 - http.server's naming
        type(self).seen.append(self.path)
        if type(self).faults:
            code = type(self).faults.pop(0)
            self.send_response(code)
            self.send_header("Retry-After", "0")
            self.end_headers()
            return
        if not self.path.startswith("/exports/sales.csv"):
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server(tmp_path, monkeypatch):
    monkeypatch.setenv("VSR_DOWNLOAD_BACKOFF", "0.01")
    _Handler.body = write_csv(
        tmp_path / "src.csv", [row(ORDERLINENUMBER=str(i)) for i in range(1, 6)]
    ).read_bytes()
    _Handler.faults, _Handler.seen = [], []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_source_forms():
    assert parse_source(None).kind == "sample" and parse_source("").location == str(SAMPLE_CSV)
    assert parse_source("https://x.example/a.csv").kind == "url"
    assert parse_source("file:///data/a.csv").location == "/data/a.csv"
    assert parse_source("/data/a.csv").kind == "path"


def test_url_is_streamed_atomically_into_a_content_addressed_file(http_server, tmp_path):
    got = download_url(f"{http_server}/exports/sales.csv", tmp_path / "dl")
    assert got.path.name == f"{hashlib.sha256(_Handler.body).hexdigest()}.csv"
    assert got.path.read_bytes() == _Handler.body and got.size_bytes == len(_Handler.body)
    assert [p.name for p in (tmp_path / "dl").iterdir()] == [got.path.name]  # no temporary left behind
    assert got.lines == count_lines(got.path) == 5


def test_transient_errors_are_retried_honouring_retry_after(http_server, tmp_path):
    _Handler.faults = [503, 429, 502]
    got = download_url(f"{http_server}/exports/sales.csv", tmp_path / "dl")
    assert got.size_bytes == len(_Handler.body)
    assert len(_Handler.seen) == 4


def test_404_is_a_clear_permanent_error_without_the_secret(http_server, tmp_path):
    with pytest.raises(SourceNotFoundError) as exc:
        download_url(f"{http_server}/nope.csv?token=SECRET123", tmp_path / "dl")
    assert "404" in str(exc.value) and "sales_source" in str(exc.value)
    assert "SECRET123" not in str(exc.value)
    assert not list((tmp_path / "dl").iterdir())


def test_persistent_server_errors_give_up_with_a_message(http_server, tmp_path):
    _Handler.faults = [500] * 10
    with pytest.raises(OSError, match="failed after 5 retries") as exc:
        download_url(f"{http_server}/exports/sales.csv?sig=SECRET", tmp_path / "dl")
    assert "SECRET" not in str(exc.value)


def test_redaction_drops_credentials_and_query():
    assert redact_url("https://user:pw@host:8443/a.csv?sig=abc") == "https://host:8443/a.csv"


def test_missing_path_says_what_to_do(tmp_path):
    with pytest.raises(SourceNotFoundError, match="set the Variable sales_source to a readable path or URL"):
        fetch(parse_source(str(tmp_path / "missing.csv")), tmp_path)


def test_a_file_already_ingested_is_recognised(conn, tmp_path):
    f = write_csv(tmp_path / "a.csv", [row()])
    sha, size = sha256_of(f)
    first = register(conn, FetchedFile(f, str(f), sha, size), 1, "run-1")
    assert not first.already_staged
    ingest(conn, f)
    again = register(conn, FetchedFile(f, "elsewhere/a.csv", sha, size), 1, "run-2")
    assert again.already_staged and again.file_id == first.file_id


def test_a_worker_without_the_downloaded_file_fetches_it_again_and_checks_it(http_server, tmp_path):
    """stage_raw on another Celery worker than download_raw's: that worker's download folder lacks
    the file, so it is fetched again from the source and must have the sha256 download_raw saw."""
    spec = parse_source(f"{http_server}/exports/sales.csv")
    first = fetch(spec, tmp_path / "worker1")
    content = first.path.read_bytes()
    first.path.unlink()  # what worker 2 sees: worker 1's folder is not on this machine
    path, again = local_copy(spec, tmp_path / "worker2", first.path, first.sha256)
    assert again and path.parent == tmp_path / "worker2" and path.read_bytes() == content
    # on the worker that has it: used as it is, nothing fetched
    seen = len(_Handler.seen)
    assert local_copy(spec, tmp_path / "worker2", path, first.sha256) == (path, False)
    assert len(_Handler.seen) == seen
    # the source changed in between: a clear error, not another file's rows
    _Handler.body += b"10999,1,S10_1678,1,1,1,1\n"
    with pytest.raises(SourceNotFoundError, match="changed since download_raw"):
        local_copy(spec, tmp_path / "worker3", first.path, first.sha256)


def test_local_sources_are_confined_to_the_allowed_folders_symlinks_resolved(tmp_path):
    """sales_source = file:///etc/passwd, or a symlink in an allowed folder pointing there, is refused
    before a byte is read, and the message quotes nothing of the file."""
    from vehicle_sales.ingest.download import allowed_roots, confine

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    good_file = write_csv(inbox / "orders.csv", [row()])
    (inbox / "sneaky.csv").symlink_to("/etc/passwd")
    roots = allowed_roots(tmp_path / "downloads", (inbox,))
    for source in (
        "file:///etc/passwd",
        "/etc/passwd",
        str(inbox / "sneaky.csv"),
        str(inbox / ".." / "x.csv"),
    ):
        with pytest.raises(
            SourceNotFoundError, match="outside the folders a local export may come from"
        ) as exc:
            fetch(parse_source(source), tmp_path / "downloads", roots)
        assert "root:" not in str(exc.value)
    assert fetch(parse_source(str(good_file)), tmp_path / "downloads", roots).lines == 1
    # by default: the bundled data folder and the download folder
    assert allowed_roots(tmp_path / "downloads") == (
        SAMPLE_CSV.parent.resolve(),
        (tmp_path / "downloads").resolve(),
    )
    assert confine(parse_source("sample"), allowed_roots(tmp_path / "downloads")) == SAMPLE_CSV.resolve()


class _Drip(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        self.send_response(200)
        self.end_headers()
        try:
            for _ in range(40):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.1)
        except OSError:
            pass

    def log_message(self, *args):
        pass


def test_a_download_that_drips_or_never_ends_fails_with_a_deadline_and_a_size_cap(tmp_path):
    from vehicle_sales.ingest.download import Limits

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Drip)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/slow.csv?token=SECRET"
    try:
        t0 = time.monotonic()
        with pytest.raises(SourceNotFoundError, match=r"took longer than 1 s in all") as exc:
            download_url(url, tmp_path / "dl", limits=Limits(seconds=1, max_bytes=1 << 20))
        assert time.monotonic() - t0 < 3 and "SECRET" not in str(exc.value)
        with pytest.raises(SourceNotFoundError, match="more than 0 MB"):
            download_url(url, tmp_path / "dl", limits=Limits(seconds=60, max_bytes=5))
        assert not list((tmp_path / "dl").glob("*"))  # no partial file left behind
    finally:
        server.shutdown()


def _registered(conn, path):
    """download_raw's result for a local export: fingerprinted and registered (committed)."""
    sha, size, lines = fingerprint(path)
    reg = register(conn, FetchedFile(path, str(path), sha, size, lines), lines, "run-1")
    conn.commit()
    return {"file_id": reg.file_id, "path": str(path), "sha256": sha, "source": str(path)}


def _stage_task_config(tmp_path):
    from types import SimpleNamespace

    return SimpleNamespace(
        sales_source_encoding="auto",
        download_dir=tmp_path / "downloads",
        source_roots=(tmp_path,),
        download_timeout=30,
        download_max_mb=16,
    )


def test_stage_raw_checks_the_sha256_while_staging_and_commits_nothing_of_another_file(
    conn, sales_db_conn_env, tmp_path
):
    """stage_raw hashes the file again while PostgreSQL finishes the staging (no pass of its own
    before): a file that changed since download_raw is refused, nothing of it committed; the same
    file stages as usual."""
    from vehicle_sales import tasks

    source = write_csv(tmp_path / "a.csv", [row(ORDERLINENUMBER=str(i)) for i in range(1, 4)])
    fetched = _registered(conn, source)
    write_csv(source, [row(ORDERLINENUMBER=str(i)) for i in range(1, 5)])  # changed in between
    cfg = _stage_task_config(tmp_path)
    with pytest.raises(SourceNotFoundError, match="changed since download_raw"):
        tasks._stage_fingerprinted({}, cfg, parse_source(str(source)), fetched)
    assert conn.execute("SELECT count(*) FROM raw_orders_csv").fetchone() == (0,)
    assert conn.execute("SELECT staged_at FROM source_files").fetchall() == [(None,)]

    fetched = _registered(conn, source)  # download_raw again: the new content
    choice, counts = tasks._stage_fingerprinted({}, cfg, parse_source(str(source)), fetched)
    assert (counts.read, counts.loaded) == (4, 4) and choice.codec == "cp1252"
    assert conn.execute("SELECT count(*) FROM raw_orders_csv").fetchone() == (4,)


def test_a_stale_download_copy_is_found_while_staging_and_the_source_staged_instead(
    conn, sales_db_conn_env, tmp_path
):
    """The file at download_raw's path is not the one it fingerprinted (a stale copy on this worker):
    the staging of it is rolled back, the source is fetched again, checked, and staged."""
    from vehicle_sales import tasks

    source = write_csv(tmp_path / "a.csv", [row(ORDERLINENUMBER=str(i)) for i in range(1, 4)])
    fetched = _registered(conn, source)
    (tmp_path / "downloads").mkdir()
    stale = write_csv(tmp_path / "downloads" / "a.csv", [row(ORDERLINENUMBER="9")])
    fetched["path"] = str(stale)
    choice, counts = tasks._stage_fingerprinted(
        {}, _stage_task_config(tmp_path), parse_source(str(source)), fetched
    )
    assert (counts.read, counts.loaded, counts.rejected) == (3, 3, 0)
    lines = conn.execute("SELECT orderlinenumber FROM raw_orders_csv ORDER BY 1").fetchall()
    assert lines == [(1,), (2,), (3,)]

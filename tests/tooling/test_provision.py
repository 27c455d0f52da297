"""make demo / make test find a PostgreSQL, or start a private one from installed binaries."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _pg_ctl() -> str | None:
    found = shutil.which("pg_ctl") or next(
        iter(sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))), None
    )
    return str(found) if found else None


@pytest.mark.skipif(_pg_ctl() is None, reason="no PostgreSQL server binaries installed on this machine")
def test_private_cluster_is_started_when_no_server_is_reachable():
    # a folder the postgres user can reach (pytest's tmp_path is private to root)
    data = Path(tempfile.mkdtemp(prefix="vsr-pgtest-"))
    env = {
        **os.environ,
        "VSR_PRIVATE_PG": "1",
        "VSR_PRIVATE_PG_DIR": str(data),
        "VSR_PRIVATE_PG_PORT": "55499",
    }
    env.pop("SALES_DB_URL", None)
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "provision_db.py"), "--database", "demo_db"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    try:
        assert out.returncode == 0, out.stderr
        url = out.stdout.strip().splitlines()[-1]
        assert url.endswith(":55499/demo_db")
        with psycopg.connect(url) as c:
            assert c.execute("SELECT current_database()").fetchone()[0] == "demo_db"
    finally:
        cmd = [_pg_ctl(), "-D", str(data), "stop", "-m", "immediate"]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres" if shutil.which("runuser") else "nobody", "--", *cmd]
        subprocess.run(cmd, capture_output=True)
        shutil.rmtree(data, ignore_errors=True)


def test_unreachable_sales_db_url_is_a_clear_error():
    env = {**os.environ, "SALES_DB_URL": "postgresql://nobody:secret@127.0.0.1:1/none"}
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "provision_db.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode != 0
    assert "does not accept connections" in out.stderr and "secret" not in out.stderr

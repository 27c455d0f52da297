#!/usr/bin/env python3
"""Find or provision a PostgreSQL server for the demo and the tests; print its URL.

Order: $SALES_DB_URL if set; else a server on 127.0.0.1:5432 (as postgres, or the current user);
else a private cluster in <repo>/.pgdata started from installed PostgreSQL binaries (as the
``postgres`` or ``nobody`` user when run as root); else stop with a message saying how to get one.
The printed URL names the database ``--database`` (created if missing).
"""

from __future__ import annotations

import argparse
import getpass
import glob
import hashlib
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parents[1]
PRIVATE_PORT = int(os.environ.get("VSR_PRIVATE_PG_PORT", "55432"))


def private_dir() -> Path:
    """<repo>/.pgdata; as root, a folder in /tmp (the postgres user may not traverse the repo's parents)."""
    if os.environ.get("VSR_PRIVATE_PG_DIR"):
        return Path(os.environ["VSR_PRIVATE_PG_DIR"])
    if os.geteuid() == 0:
        return Path(tempfile.gettempdir()) / f"vsr-pgdata-{hashlib.sha1(str(ROOT).encode()).hexdigest()[:8]}"
    return ROOT / ".pgdata"


def _can_connect(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def _with_db(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + dbname))


def ensure_database(server_url: str, dbname: str) -> str:
    """Create ``dbname`` on the server if it does not exist; return its URL."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{dbname}"')
    return _with_db(server_url, dbname)


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


def _run_as(user: str | None, cmd: list[str]) -> None:
    if user:
        cmd = ["runuser", "-u", user, "--", *cmd]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def start_private_cluster() -> str | None:
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not (initdb and pg_ctl):
        return None
    user = None
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        user = "postgres" if _user_exists("postgres") else "nobody"
    url = f"postgresql://{user or getpass.getuser()}@127.0.0.1:{PRIVATE_PORT}/postgres"
    if _can_connect(url):
        return url
    data = private_dir()
    if not (data / "PG_VERSION").exists():
        data.mkdir(exist_ok=True)
        if user:
            shutil.chown(data, user=user)
        _run_as(user, [initdb, "-D", str(data), "-A", "trust", "-U", user or getpass.getuser()])
    _run_as(
        user,
        [
            pg_ctl,
            "-D",
            str(data),
            "-l",
            str(data / "server.log"),
            "-w",
            "-o",
            f"-p {PRIVATE_PORT} -c listen_addresses=127.0.0.1 -k /tmp",
            "start",
        ],
    )
    for _ in range(30):
        if _can_connect(url):
            return url
        time.sleep(0.5)
    return None


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def find_server() -> str:
    env_url = os.environ.get("SALES_DB_URL")
    if env_url:
        if not _can_connect(env_url):
            sys.exit(f"SALES_DB_URL={_redact(env_url)} does not accept connections: check the server and URL")
        return env_url
    # VSR_PRIVATE_PG=1 skips the shared server (to test the private-cluster path, or to stay isolated)
    if os.environ.get("VSR_PRIVATE_PG") != "1":
        for user in ("postgres", getpass.getuser()):
            url = f"postgresql://{user}@127.0.0.1:5432/postgres"
            if _can_connect(url):
                return url
    url = start_private_cluster()
    if url:
        return url
    sys.exit(
        "No PostgreSQL server found and none could be started.\n"
        "  Either set SALES_DB_URL=postgresql://USER:PASSWORD@HOST:PORT/DATABASE,\n"
        "  or install PostgreSQL (Debian/Ubuntu: apt-get install postgresql) and run this again."
    )


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--database", default="vehicle_sales", help="database to create/use on the server")
    ap.add_argument("--server-only", action="store_true", help="print the server URL, create nothing")
    args = ap.parse_args()
    server = find_server()
    if args.server_only or os.environ.get("SALES_DB_URL"):
        print(server)
    else:
        print(ensure_database(server, args.database))


if __name__ == "__main__":
    main()

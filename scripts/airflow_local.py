#!/usr/bin/env python3
"""make airflow: a local Airflow (``airflow standalone``) serving this bundle, with the warehouse
connection and the bundled sample configured. Prints the URL and the admin credentials.

Also importable: the end-to-end test starts the same stack in a temporary home on a free port.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from local_env import AIRFLOW_HOME, BIN, airflow_env, migrate_metadata, warehouse_url


def standalone_env(
    sales_db_url: str,
    home: Path,
    port: int,
    password: str,
    extra: dict[str, str] | None = None,
    metadata_url: str | None = None,
) -> dict[str, str]:
    """The environment of ``airflow standalone``. Its metadata database: ``metadata_url`` (a
    SQLAlchemy URL, e.g. ``postgresql+psycopg2://…``) or SQLite in ``home``, whose writers (the
    scheduler, the DAG processor, the API server and LocalExecutor's tasks) wait up to 30 s for
    each other instead of SQLite's default 5 s."""
    env = airflow_env(sales_db_url, extra)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url or f"sqlite:///{home}/airflow.db?timeout=30",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW_VAR_SALES_DOWNLOAD_DIR": str(home / "downloads"),
        }
    )
    home.mkdir(parents=True, exist_ok=True)
    # a known admin password instead of a random one printed once in the middle of the output
    (home / "simple_auth_manager_passwords.json.generated").write_text(json.dumps({"admin": password}))
    return env


def start(env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """Start ``airflow standalone`` in its own process group (so all its children stop together)."""
    log = open(log_path, "ab")
    return subprocess.Popen(
        [str(BIN / "airflow"), "standalone"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_healthy(port: int, proc: subprocess.Popen, timeout: float = 120) -> float:
    """Seconds until the API server answers and the scheduler is healthy."""
    start_t = time.monotonic()
    url = f"http://127.0.0.1:{port}/api/v2/monitor/health"
    while time.monotonic() - start_t < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"airflow standalone exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                health = json.load(resp)
            if health.get("scheduler", {}).get("status") == "healthy":
                return time.monotonic() - start_t
        except OSError:
            pass
        time.sleep(1)
    raise TimeoutError(f"Airflow did not become healthy on port {port} within {timeout:.0f} s")


def group_alive(pgid: int) -> bool:
    """Is any process of the group still running? (Zombies do not count: in a container nobody may
    reap them.) Falls back to a signal probe where /proc is not available."""
    proc_dir = Path("/proc")
    if not proc_dir.is_dir():
        try:
            os.killpg(pgid, 0)
            return True
        except ProcessLookupError:
            return False
    for stat in proc_dir.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":  # fields: state, ppid, pgrp, ...
            return True
    return False


def stop(proc: subprocess.Popen, timeout: float = 30) -> None:
    """Stop standalone and every process it started (its whole process group), whatever state it is in."""
    pgid = proc.pid  # start_new_session=True: the group id is standalone's pid
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            proc.poll()
            if not group_alive(pgid):
                break
            time.sleep(0.5)
        else:
            continue
        break
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        pass
    kill_session(proc.pid)


def kill_session(sid: int) -> list[str]:
    """SIGKILL every live process of session ``sid``, by pid; returns them ("pid name").

    standalone runs in a session of its own, so these are all its descendants. Airflow moves task
    processes into process groups of their own, so a task that missed its supervisor's shutdown
    survives the process-group kill above; this sweep catches it.
    """
    killed = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, tail = stat.read_text().rsplit(")", 1)
            fields = tail.split()  # state, ppid, pgrp, session, ...
            pid = int(stat.parent.name)
            if int(fields[3]) == sid and fields[0] != "Z" and pid != os.getpid():
                os.kill(pid, signal.SIGKILL)
                killed.append(f"{pid} {head.split('(', 1)[1]}")
        except (OSError, IndexError, ValueError):
            continue
    return killed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, default=int(os.environ.get("AIRFLOW_PORT", "8080")))
    args = ap.parse_args()
    password_file = AIRFLOW_HOME / "admin-password"
    AIRFLOW_HOME.mkdir(exist_ok=True)
    password = os.environ.get("AIRFLOW_ADMIN_PASSWORD") or (
        password_file.read_text().strip() if password_file.exists() else secrets.token_urlsafe(12)
    )
    password_file.write_text(password)
    url = warehouse_url()
    env = standalone_env(url, AIRFLOW_HOME, args.port, password)
    migrate_metadata(env)
    log_path = AIRFLOW_HOME / "standalone.log"
    proc = start(env, log_path)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # run the finally below on kill/timeout
    try:
        seconds = wait_healthy(args.port, proc)
        print(f"\nAirflow is up after {seconds:.0f} s: http://127.0.0.1:{args.port}")
        print(f"  login: admin / {password}   (kept in {password_file})")
        print(f"  DAG: vehicle_sales_rfm (paused: unpause it, then Trigger; warehouse {url})")
        print(f"  logs: {log_path}\nCtrl-C stops it.")
        proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop(proc)
    return 0


if __name__ == "__main__":
    sys.exit(main())

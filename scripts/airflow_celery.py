#!/usr/bin/env python3
"""make airflow-celery: a local CeleryExecutor deployment of this bundle from .venv, no Docker.

PostgreSQL holds the metadata database (``airflow_celery``) and the warehouse (``vehicle_sales``);
Redis is the broker (the one on 127.0.0.1:6379, or one started here from the installed
``redis-server``). Started, each in a process group of its own: the API server, the scheduler, the
DAG processor, the triggerer, two Celery workers and Flower. The settings every machine shares come
from ``deploy/celery.env`` (which the Docker stack reads too); this script adds the host's URLs and
ports and the shared secrets (generated once, kept in ``.airflow-celery/secrets.json``).

Two workers on one machine are made to look like two machines: each records its own hostname
(127.0.0.1 and 127.0.0.2, both this machine), serves its logs on its own port and downloads into
its own folder; the log folder is shared, as a compose volume or NFS would share it.

Prints the URLs and the login; Ctrl-C stops every process it started. Also importable: the Celery
end-to-end test starts the same deployment in a temporary home on free ports.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from airflow_local import kill_session, stop
from local_env import BIN, ROOT, airflow_env, warehouse_url

SETTINGS = ROOT / "deploy" / "celery.env"
HOME = ROOT / ".airflow-celery"
WORKERS = 2
REDIS_DB = 5  # a database of its own on a shared Redis


def read_settings(path: Path = SETTINGS) -> dict[str, str]:
    """The KEY=VALUE lines of ``deploy/celery.env`` (comments and blank lines skipped)."""
    out = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{path}: not KEY=VALUE: {raw!r}")
        out[key.strip()] = value.strip()
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def redis_ping(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class Ports:
    api: int = 8080
    flower: int = 5555
    scheduler_health: int = 8974
    triggerer_logs: int = 8794
    worker_logs: tuple[int, ...] = (8793, 8795)

    @classmethod
    def free(cls) -> Ports:
        return cls(
            free_port(), free_port(), free_port(), free_port(), tuple(free_port() for _ in range(WORKERS))
        )


def load_secrets(home: Path) -> dict[str, str]:
    """The secrets every component shares, generated on first use (64 bytes: shorter HMAC keys
    print a warning in every task log) and kept, so that encrypted values survive a restart."""
    path = home / "secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    from cryptography.fernet import Fernet

    values = {
        "jwt_secret": secrets.token_urlsafe(64),
        "api_secret_key": secrets.token_urlsafe(64),
        "fernet_key": Fernet.generate_key().decode(),
        "admin_password": secrets.token_urlsafe(12),
    }
    home.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(values, indent=2))
    path.chmod(0o600)
    return values


@dataclass
class Deployment:
    """One local Celery deployment: its home, URLs, ports and processes."""

    home: Path
    sales_db_url: str
    metadata_url: str  # SQLAlchemy URL (postgresql+psycopg2://...)
    ports: Ports = field(default_factory=Ports)
    extra_env: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    redis_proc: subprocess.Popen | None = None
    broker_url: str = ""

    # -- environment
    def env(self) -> dict[str, str]:
        s = load_secrets(self.home)
        env = airflow_env(self.sales_db_url)
        env.update(read_settings())
        env.update(
            {
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.metadata_url,
                "AIRFLOW__CELERY__BROKER_URL": self.broker_url,
                "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + self.metadata_url,
                "AIRFLOW__API__PORT": str(self.ports.api),
                "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{self.ports.api}",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.ports.api}/execution/",
                "AIRFLOW__API_AUTH__JWT_SECRET": s["jwt_secret"],
                "AIRFLOW__API__SECRET_KEY": s["api_secret_key"],
                "AIRFLOW__CORE__FERNET_KEY": s["fernet_key"],
                "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.home / "logs"),  # shared by all
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(self.ports.triggerer_logs),
                "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(self.ports.scheduler_health),
                "AIRFLOW_VAR_RFM_REPORTS_DIR": str(self.home / "reports"),
            }
        )
        env.update(self.extra_env)
        return env

    def worker_env(self, i: int) -> dict[str, str]:
        """Worker i (1-based): its own hostname, log server port and download folder."""
        env = self.env()
        env.update(
            {
                "VEHICLE_SALES_WORKER_HOSTNAME": f"127.0.0.{i}",
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self.ports.worker_logs[i - 1]),
                "AIRFLOW_VAR_SALES_DOWNLOAD_DIR": str(self.home / f"downloads-worker{i}"),
            }
        )
        return env

    def components(self) -> list[tuple[str, list[str], dict[str, str]]]:
        env = self.env()
        out = [
            ("api-server", ["api-server"], env),
            ("scheduler", ["scheduler"], env),
            ("dag-processor", ["dag-processor"], env),
            ("triggerer", ["triggerer"], env),
        ]
        for i in range(1, WORKERS + 1):
            cmd = ["celery", "worker", "--celery-hostname", f"worker{i}@%h"]
            out.append((f"worker{i}", cmd, self.worker_env(i)))
        out.append(("flower", ["celery", "flower", "--port", str(self.ports.flower)], env))
        return out

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.api}"

    @property
    def admin_password(self) -> str:
        return load_secrets(self.home)["admin_password"]

    # -- lifecycle
    def ensure_broker(self) -> None:
        if self.broker_url:
            return
        if redis_ping(6379):
            self.broker_url = f"redis://127.0.0.1:6379/{REDIS_DB}"
            return
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit(
                "no Redis on 127.0.0.1:6379 and no redis-server to start one: "
                "apt-get install redis-server (or point AIRFLOW__CELERY__BROKER_URL at yours)"
            )
        port = free_port()
        log = open(self.home / "redis.log", "ab")
        self.redis_proc = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 20
        while not redis_ping(port):
            if time.monotonic() > deadline or self.redis_proc.poll() is not None:
                raise SystemExit(f"redis-server did not start (see {self.home / 'redis.log'})")
            time.sleep(0.2)
        self.broker_url = f"redis://127.0.0.1:{port}/{REDIS_DB}"

    def start(self, timeout: float = 180) -> float:
        """Start everything; returns the seconds until the API server, the scheduler and both
        workers are up."""
        t0 = time.monotonic()
        self.home.mkdir(parents=True, exist_ok=True)
        for d in ("logs", "reports"):
            (self.home / d).mkdir(exist_ok=True)
        busy = [p for p in (self.ports.api, self.ports.flower) if port_in_use(p)]
        if busy:
            raise SystemExit(
                f"port(s) {busy} already in use: stop what uses them or pass --port/--flower-port"
            )
        self.ensure_broker()
        s = load_secrets(self.home)
        # a known admin password (SimpleAuthManager reads this file; it would print a random one)
        (self.home / "simple_auth_manager_passwords.json.generated").write_text(
            json.dumps({"admin": s["admin_password"]})
        )
        subprocess.run(
            [str(BIN / "airflow"), "db", "migrate"],
            env=self.env(),
            check=True,
            capture_output=True,
            timeout=600,
        )
        for name, _, _ in self.components():
            self._spawn(name)
        self.wait_ready(timeout - (time.monotonic() - t0))
        return time.monotonic() - t0

    def _spawn(self, name: str) -> None:
        cmd, env = next((c, e) for n, c, e in self.components() if n == name)
        log = open(self.home / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen(
            [str(BIN / "airflow"), *cmd],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def restart(self, name: str, timeout: float = 120) -> None:
        """Start a (killed) component again; for a worker, wait until it is connected."""
        before = (self.home / f"{name}.log").read_bytes().count(b" ready.")
        self._spawn(name)
        deadline = time.monotonic() + timeout
        while (
            name.startswith("worker") and (self.home / f"{name}.log").read_bytes().count(b" ready.") <= before
        ):
            if time.monotonic() > deadline or self.procs[name].poll() is not None:
                raise RuntimeError(f"{name} did not come back (see {self.home / (name + '.log')})")
            time.sleep(0.5)

    def alive_workers(self) -> set[str]:
        """The hostnames of the workers running now."""
        return {f"127.0.0.{i}" for i in range(1, WORKERS + 1) if self.procs[f"worker{i}"].poll() is None}

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        url = f"{self.base_url}/api/v2/monitor/health"
        while True:
            dead = [n for n, p in self.procs.items() if p.poll() is not None]
            if dead:
                raise RuntimeError(f"{dead} exited (logs in {self.home})")
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    health = json.load(resp)
                if health.get("scheduler", {}).get("status") == "healthy" and self.workers_ready():
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"the deployment was not ready within {timeout:.0f} s (logs in {self.home})"
                )
            time.sleep(1)

    def workers_ready(self) -> bool:
        """Both workers have connected to the broker (their logs say 'ready')."""
        for i in range(1, WORKERS + 1):
            path = self.home / f"worker{i}.log"
            if not path.exists() or b" ready." not in path.read_bytes():
                return False
        return True

    def kill(self, name: str) -> None:
        """SIGKILL a component and everything it started (a worker and its running tasks): as if
        its machine went away."""
        proc = self.procs[name]
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        kill_session(proc.pid)
        proc.wait(10)

    def stop(self) -> None:
        for name in reversed(list(self.procs)):
            proc = self.procs[name]
            if proc.poll() is None:
                stop(proc, timeout=20)
            kill_session(proc.pid)
        if self.redis_proc is not None:
            stop(self.redis_proc, timeout=5)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=int(os.environ.get("AIRFLOW_PORT", "8080")))
    ap.add_argument("--flower-port", type=int, default=5555)
    args = ap.parse_args()
    url = warehouse_url()
    metadata = warehouse_url("airflow_celery").replace("postgresql://", "postgresql+psycopg2://", 1)
    dep = Deployment(HOME, url, metadata, Ports(api=args.port, flower=args.flower_port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # run the finally below on kill/timeout
    try:
        seconds = dep.start()
        print(f"\nAirflow (CeleryExecutor, {WORKERS} workers) is up after {seconds:.0f} s: {dep.base_url}")
        print(f"  login: admin / {dep.admin_password}   (kept in {HOME / 'secrets.json'})")
        print(f"  Flower: http://127.0.0.1:{args.flower_port}   broker: {dep.broker_url}")
        print(f"  DAG: vehicle_sales_rfm (paused: unpause it, then Trigger; warehouse {url})")
        print(f"  metadata: {metadata}\n  logs: {HOME}/*.log, task logs in {HOME / 'logs'}\nCtrl-C stops it.")
        while all(p.poll() is None for p in dep.procs.values()):
            time.sleep(1)
        dead = [n for n, p in dep.procs.items() if p.poll() is not None]
        print(f"{dead} exited: stopping (see {HOME}/<name>.log)")
    except KeyboardInterrupt:
        pass
    finally:
        dep.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Shared fixtures: a real PostgreSQL database per test, an isolated Airflow home.

The Airflow environment is set here, before anything imports airflow.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="vsr-airflow-home-"))
os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(ROOT / "plugins")
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_AIRFLOW_HOME}/airflow.db"
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO")
# downloads of a test run stay in its own temporary Airflow home
os.environ["AIRFLOW_VAR_SALES_DOWNLOAD_DIR"] = str(_AIRFLOW_HOME / "downloads")

import psycopg  # noqa: E402
import pytest  # noqa: E402


def _server_url() -> str:
    url = os.environ.get("TEST_PG_SERVER_URL")
    if url:
        return url
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "provision_db.py"), "--server-only"],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    """URL of a PostgreSQL server where tests may create and drop databases."""
    return _server_url()


def _with_db(url: str, dbname: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + dbname))


@pytest.fixture
def fresh_db_factory(pg_server_url):
    """Create empty databases on the test server; all are dropped at teardown."""
    created: list[str] = []

    def make(with_schema: bool = True) -> str:
        name = f"vsr_test_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(pg_server_url, autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        url = _with_db(pg_server_url, name)
        if with_schema:
            from vehicle_sales.common.schema import apply_schema

            with psycopg.connect(url) as conn:
                apply_schema(conn)
        return url

    yield make
    with psycopg.connect(pg_server_url, autocommit=True) as c:
        for name in created:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db_url(fresh_db_factory) -> str:
    """A fresh database with the current schema."""
    return fresh_db_factory(with_schema=True)


@pytest.fixture
def conn(db_url):
    with psycopg.connect(db_url) as c:
        yield c


@pytest.fixture
def sales_db_conn_env(db_url, monkeypatch) -> str:
    """Point the Airflow connection ``sales_db`` at the test database (as users do, by env)."""
    monkeypatch.setenv("AIRFLOW_CONN_SALES_DB", db_url)
    return db_url


@pytest.fixture(scope="session")
def airflow_db():
    """A migrated Airflow metadata database (SQLite in the temporary Airflow home)."""
    from airflow.utils import db

    db.resetdb()
    return True


@pytest.fixture
def warehouse(sales_db_conn_env, airflow_db, monkeypatch, tmp_path):
    """A fresh warehouse behind connection sales_db, reports in tmp, geocoding off unless a test
    turns it on; returns the warehouse URL."""
    monkeypatch.setenv("AIRFLOW_VAR_RFM_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("AIRFLOW_VAR_GEOCODE_ENABLED", "false")
    # local exports of the tests live in tmp_path: allowed next to the bundled data folder
    from vehicle_sales.common.paths import SAMPLE_CSV

    monkeypatch.setenv("AIRFLOW_VAR_SALES_SOURCE_ROOTS", f"{tmp_path},{SAMPLE_CSV.parent}")
    monkeypatch.delenv("AIRFLOW_VAR_SALES_SOURCE", raising=False)
    return sales_db_conn_env


@pytest.fixture
def api_server(airflow_db, sales_db_conn_env, monkeypatch):
    """The Airflow API server's FastAPI app as `airflow api-server` builds it (this repository's
    plugins folder included), in process, with a bearer token of an authenticated admin; the
    warehouse behind sales_db is the test's fresh database."""
    monkeypatch.setenv("AIRFLOW__API_AUTH__JWT_SECRET", "insight-test-" + "x" * 52)
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "admin:admin")
    from airflow.api_fastapi.app import create_app, get_auth_manager, purge_cached_app
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from fastapi.testclient import TestClient

    purge_cached_app()
    with TestClient(create_app()) as client:
        token = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username="admin", role="admin"))
        yield client, {"Authorization": f"Bearer {token}"}
    purge_cached_app()

"""The environment a local Airflow needs to run this bundle from the repository checkout.

Used by scripts/demo.py and scripts/airflow_local.py; tests set their own in tests/conftest.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AIRFLOW_HOME = ROOT / ".airflow"
BIN = Path(sys.executable).parent


def warehouse_url(database: str = "vehicle_sales") -> str:
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "provision_db.py"), "--database", database],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip().splitlines()[-1]


def airflow_env(sales_db_url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(AIRFLOW_HOME),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{AIRFLOW_HOME}/airflow.db",
            "AIRFLOW_CONN_SALES_DB": sales_db_url,
            "AIRFLOW_VAR_SALES_DOWNLOAD_DIR": str(AIRFLOW_HOME / "downloads"),
            "AIRFLOW_VAR_RFM_REPORTS_DIR": str(ROOT / "reports"),
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        }
    )
    env.update(extra or {})
    return env


def migrate_metadata(env: dict[str, str]) -> None:
    AIRFLOW_HOME.mkdir(exist_ok=True)
    subprocess.run(
        [str(BIN / "airflow"), "db", "migrate"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

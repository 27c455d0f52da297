"""Where the bundle's files live: the repository root holds ``sql/`` and ``data/``.

In the Docker image the same layout is mounted under /opt/airflow; ``VEHICLE_SALES_HOME`` overrides.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(os.environ.get("VEHICLE_SALES_HOME") or Path(__file__).resolve().parents[3])
SQL_DIR = ROOT / "sql"
SAMPLE_CSV = ROOT / "data" / "sample_sales_data.csv"

"""The Makefile: make help lists every target; make sample reproduces the bundled sample."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_make_help_lists_every_target():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    phony = set(re.search(r"^\.PHONY:(.*)$", makefile, re.M).group(1).split())
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, re.M))
    assert phony == targets, "every target is .PHONY and every .PHONY name is a target"
    out = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    listed = set(re.findall(r"^make (\S+)", out, re.M))
    assert listed == targets, f"make help misses {targets - listed}"
    assert {"install", "demo", "test", "airflow", "bench"} <= listed  # the public ones


def test_the_sample_script_writes_the_bundled_sample_byte_for_byte(tmp_path):
    out = tmp_path / "sample.csv"
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "generate_sample.py"), "--out", str(out)],
        check=True,
        capture_output=True,
    )
    assert out.read_bytes() == (ROOT / "data" / "sample_sales_data.csv").read_bytes()

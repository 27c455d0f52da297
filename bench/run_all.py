#!/usr/bin/env python3
"""make bench: every benchmark, one after the other; JSON results land in bench/results/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = [
    "bench_ingest.py",
    "bench_phones.py",
    "bench_geocoding.py",
    "bench_segmentation.py",
    "bench_insight.py",
]


def main() -> int:
    failed = []
    for name in BENCHES:
        script = HERE / name
        print(f"\n=== {name} ===", flush=True)
        rc = subprocess.call(
            [sys.executable, str(script), "--json", str(HERE / "results" / f"{script.stem}.json")]
        )
        if rc:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

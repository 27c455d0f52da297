#!/usr/bin/env python3
"""Write the bundled sample (the default) or a larger export for benchmarks.

python scripts/generate_sample.py                         # data/sample_sales_data.csv
python scripts/generate_sample.py --lines 1000000 --customers 33000 --out /tmp/orders_1m.csv
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "include"), str(ROOT)]

from devtools import sample_data  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "data" / "sample_sales_data.csv")
    ap.add_argument("--lines", type=int, default=sample_data.SAMPLE_LINES)
    ap.add_argument("--seed", type=int, default=sample_data.SAMPLE_SEED)
    ap.add_argument("--customers", type=int, default=None, help="default: 92 (the sample's)")
    ap.add_argument("--first-order", type=int, default=10100)
    ap.add_argument("--encoding", default=sample_data.ENCODING)
    a = ap.parse_args()
    path = sample_data.write_csv(a.out, a.lines, a.seed, a.customers, a.first_order, a.encoding)
    print(f"wrote {a.lines} order lines to {path} ({path.stat().st_size} bytes, {a.encoding})")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Benchmark: customer segmentation (RFM preprocessing + K-Medoids k=3, euclidean, k-medoids++ +
assignment + metrics with a sampled silhouette + naming) on synthetic RFM populations.

Each size runs in a fresh subprocess, so the peak RSS (``ru_maxrss``) is that size's own. The
population is skewed like a wholesaler's customers: geometric order counts, lognormal order values,
recency uniform over three years but shorter for frequent buyers.

Targets (2-core machine): 100k customers < 30 s and < 2 GB peak; 1M customers < 5 minutes.

    python bench/bench_segmentation.py [--sizes 1000,10000,100000,1000000] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {100_000: {"seconds": 30.0, "peak_mb": 2048.0}, 1_000_000: {"seconds": 300.0}}


def synthetic_rfm(n: int, seed: int):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    frequency = rng.geometric(0.3, n)
    monetary = (frequency * rng.lognormal(np.log(3500), 0.9, n)).round(2)
    recency = np.floor(rng.uniform(0, 1, n) ** (1 + 0.15 * (frequency - 1)) * 1095).astype(np.int64)
    return pd.DataFrame(
        {
            "customer_id": np.arange(1, n + 1),
            "recency_days": recency,
            "frequency": frequency,
            "monetary": monetary,
        }
    )


def child(n: int, seed: int) -> dict:
    sys.path[:0] = [str(ROOT / "include"), str(ROOT)]
    import numpy as np

    from vehicle_sales.segments.kmedoids import KMedoidsPAM
    from vehicle_sales.segments.metrics import clustering_metrics
    from vehicle_sales.segments.naming import name_segments
    from vehicle_sales.segments.preprocessing import RFM_COLUMNS, make_preprocessor

    rfm = synthetic_rfm(n, seed)
    base_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    raw = rfm[list(RFM_COLUMNS)].to_numpy(dtype=np.float64)
    X = make_preprocessor().fit_transform(raw)
    t1 = time.perf_counter()
    model = KMedoidsPAM(n_clusters=3, metric="euclidean", init="k-medoids++", random_state=seed).fit(X)
    t2 = time.perf_counter()
    labels = model.predict(X)  # the assignment pass, as for new customers
    t3 = time.perf_counter()
    metrics = clustering_metrics(X, labels, metric="euclidean", random_state=seed)
    t4 = time.perf_counter()
    names = name_segments(raw[model.medoid_indices_], raw)
    t5 = time.perf_counter()
    assert (labels == model.labels_).all()
    sizes = np.bincount(labels, minlength=3)
    return {
        "n": n,
        "method": model.method_used_,
        "seconds": round(t5 - t0, 3),
        "preprocess_s": round(t1 - t0, 3),
        "fit_s": round(t2 - t1, 3),
        "assign_s": round(t3 - t2, 3),
        "metrics_s": round(t4 - t3, 3),
        "naming_s": round(t5 - t4, 3),
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "data_mb": round(base_mb, 1),
        "loss": model.inertia_,
        "loss_per_customer": model.inertia_ / n,
        "silhouette": metrics["silhouette"],
        "silhouette_sample": min(n, 10_000),
        "calinski_harabasz": metrics["calinski_harabasz"],
        "davies_bouldin": metrics["davies_bouldin"],
        "segments": {name: int(sizes[i]) for i, name in enumerate(names)},
    }


def check(row: dict) -> list[str]:
    missed = []
    for key, limit in TARGETS.get(row["n"], {}).items():
        if row[key] > limit:
            missed.append(f"n={row['n']}: {key} {row[key]} > {limit}")
    return missed


def versions() -> dict:
    from importlib.metadata import version

    out = {"python": platform.python_version(), "cpus": os.cpu_count(), "machine": platform.machine()}
    for pkg in ("numpy", "pandas", "scikit-learn", "kmedoids"):
        try:
            out[pkg] = version(pkg)
        except Exception:  # noqa: BLE001 - informative only
            out[pkg] = None
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1000,10000,100000,1000000")
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.child is not None:
        print(json.dumps(child(args.child, args.seed)))
        return 0

    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    rows, missed = [], []
    header = (
        f"{'n':>9} {'method':>9} {'seconds':>8} {'fit s':>7} {'assign s':>8} {'metrics s':>9} "
        f"{'peak MB':>8} {'loss':>12} {'loss/n':>7} {'silhouette':>10}  segments"
    )
    print(header, flush=True)
    for n in sizes:
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child", str(n), "--seed", str(args.seed)],
            capture_output=True,
            text=True,
        )
        if proc.returncode:
            sys.stderr.write(proc.stderr)
            missed.append(f"n={n}: child failed (rc {proc.returncode})")
            continue
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        rows.append(row)
        missed += check(row)
        sil = "-" if row["silhouette"] is None else f"{row['silhouette']:.3f}"
        segs = ", ".join(f"{k} {v}" for k, v in row["segments"].items())
        print(
            f"{n:>9} {row['method']:>9} {row['seconds']:>8.2f} {row['fit_s']:>7.2f} {row['assign_s']:>8.2f} "
            f"{row['metrics_s']:>9.2f} {row['peak_mb']:>8.0f} {row['loss']:>12.1f} "
            f"{row['loss_per_customer']:>7.4f} {sil:>10}  {segs}",
            flush=True,
        )
    for m in missed:
        print(f"TARGET MISSED: {m}")
    if not missed:
        print(
            "targets met: "
            + "; ".join(
                f"n={n}: " + ", ".join(f"{k} < {v:g}" for k, v in t.items())
                for n, t in TARGETS.items()
                if n in sizes
            )
            or "targets met"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "benchmark": "segmentation",
                    "environment": versions(),
                    "targets": {str(k): v for k, v in TARGETS.items()},
                    "results": rows,
                    "missed": missed,
                },
                indent=2,
            )
        )
        print(f"results written to {args.json}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())

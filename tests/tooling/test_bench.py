"""make bench's scripts still run: each benchmark end to end at a tiny size (the ingestion one with
its steps and a real DAG run), so a change to the pipeline cannot silently break ``make bench``.
They check that each figure was measured, never a speed: speed is what ``make bench`` reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_ingest_benchmark_runs_its_steps_and_a_dag_run_on_a_small_file(pg_server_url, tmp_path):
    out = tmp_path / "bench.json"
    env = {**os.environ, "TEST_PG_SERVER_URL": pg_server_url}
    proc = subprocess.run(
        [
            sys.executable,
            "bench/bench_ingest.py",
            "--sizes",
            "2000",
            "--dag-sizes",
            "2000",
            "--dag-repeats",
            "2",
            "--json",
            str(out),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(out.read_text())
    (steps,) = result["steps"]
    assert steps["lines"] == 2000 and steps["copy_s"] > 0 and steps["full"]["lines"] == 2000
    assert all(steps["full"][k] >= 0 for k in ("download", "stage", "reference", "refresh"))
    assert steps["incremental_1pct"]["lines"] == 20
    # then three 10-line files: what any run costs; the +1 % run's lines cost the rest
    assert len(steps["small_runs_s"]) == 3 and steps["small"]["lines"] == 10
    assert steps["small"]["total"] == sorted(steps["small_runs_s"])[1]
    assert steps["incremental_lines_share"] == pytest.approx(
        (steps["incremental_1pct"]["total"] - steps["small"]["total"]) / steps["full"]["total"], abs=1e-4
    )
    # three full runs, each on a new warehouse, the median one reported; a COPY before each and two after
    assert len(steps["full_runs_s"]) == 3 and steps["full"]["total"] == sorted(steps["full_runs_s"])[1]
    assert len(steps["copy_samples"]) == 5 and steps["copy_s"] == sorted(steps["copy_samples"])[2]
    # where the time went: this process's CPU always, the server's when it runs here (it does in tests)
    cpu = steps["full"]["cpu"]
    assert set(cpu) == {"download", "stage", "reference", "refresh", "total"}
    assert cpu["total"]["python_cpu_s"] > 0 and cpu["total"]["server_cpu_s"] > 0
    assert steps["server_cpu_ratio"] > 0 and steps["copy_server_cpu_s"] is not None
    (dag,) = result["dag"]
    assert set(dag["tasks_full"]) == {"download_raw", "stage_raw", "load_reference_data", "refresh_core"}
    assert all(v > 0 for v in dag["tasks_full"].values())
    # a warm-up run not counted, then two pairs (100 lines, the file), a COPY before and after each file
    assert dag["repeats"] == 2 and set(dag["tasks_warm_up"]) == set(dag["tasks_full"])
    assert len(dag["runs_full"]) == len(dag["runs_small"]) == len(dag["data_dependent_each_s"]) == 2
    assert len(dag["copy_samples"]) == 4
    assert dag["copy_s"] == pytest.approx(sum(sorted(dag["copy_samples"])[1:3]) / 2, abs=1e-3)


@pytest.mark.parametrize(
    "args",
    [
        ["bench/bench_segmentation.py", "--sizes", "1000", "--no-peer"],
        ["bench/bench_phones.py", "--sizes", "1000"],
        ["bench/bench_geocoding.py", "--sizes", "300"],
        ["bench/bench_insight.py", "--runs", "3", "--customers", "500", "--repeats", "1"],
    ],
    ids=lambda a: a[0].split("/")[-1],
)
def test_the_other_benchmarks_run_at_a_small_size(args, pg_server_url, tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, *args, "--json", str(out)],
        cwd=ROOT,
        env={**os.environ, "TEST_PG_SERVER_URL": pg_server_url},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert json.loads(out.read_text()), "the benchmark wrote no results"

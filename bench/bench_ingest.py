#!/usr/bin/env python3
"""Benchmark: ingestion against its ceiling, a plain COPY of the same file measured in the same run.

For each size (10k, 100k, 1M order lines by default), in its own process, on a scratch database of
the test server:

* **ceiling**: ``COPY`` of the file into an unlogged, unindexed table of 25 text columns, five
  times (before each full run, and after the last one and its +1 % runs): the median is the
  ceiling, the range is printed;
* **steps**: what the DAG's data-dependent tasks do with it, in-process: download_raw (fingerprint),
  stage_raw (encoding + staging, the file's sha256 checked meanwhile), load_reference_data, refresh_core; their sum over the ceiling is
  the ratio (target: at most 5x). Three full runs, each into a new warehouse with a COPY before it:
  the median run is the figure (one run moved by a fifth from one sample to the next on a noisy day,
  as the ceiling does), and all three are printed;
* **+1 %**: a file of 1 % new lines through the same steps, three times (three such files, each
  added to the warehouse as the previous one left it: a run of 0.05 s moves by a fifth from one
  sample to the next on this machine); the median run's share of the full run is the figure (target:
  under 5 %), and all three are printed;
* **a small file**: then three files of 10 new lines through the same steps, the median run: what
  any run costs whatever its size (round trips, commits, the statements' plans over a few rows). The
  +1 % run's time less that is what the +1 % file's lines cost; both are printed as shares of the full
  run (no target: they say how much of the +1 % figure is fixed, how much grows with the file);
* **a mid-size file** (at 1M lines): then a file of 6 % new lines, as many as a bulk load but a small
  share of the warehouse, through the same steps: its time and its share of the full run (no target:
  it shows what a load of that size costs where the foreign keys are checked row by row rather than
  re-validated over the whole warehouse; see sql/common/bulk_load.sql).

With ``--dag`` (the default for ``make bench`` at 100k and 1M) the same file also goes through real
DAG runs (``dag.test()``), and the data-dependent time is the sum of those four tasks' durations minus
the same sum for a 100-line file in the same process: what a DAG run on the big file costs more. After
one uncounted warm-up run, three pairs (the 100-line file, then the file) are run and each task's
median is taken (see :func:`dag_size`).

    python bench/bench_ingest.py [--sizes 10000,100000,1000000] [--dag-sizes 100000,1000000] [--json out]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "include"), str(ROOT), str(ROOT / "tests")]
DATA = ROOT / "bench" / "data"
TARGET_RATIO = 5.0
TARGET_INCREMENTAL = 0.05
DATA_TASKS = ("download_raw", "stage_raw", "load_reference_data", "refresh_core")
FULL_RUNS = 3  # full runs of the file, each on a new warehouse; the median run is the figure
INCREMENTAL_RUNS = 3  # +1 % files added one after the other; the median run is the figure
MID_SHARE = 0.06  # a mid-size file after those: 6 % new lines (reported where that is a bulk load's size)
SMALL_LINES = 10  # then INCREMENTAL_RUNS files this small: what a run costs whatever its size (no target)


def server_url() -> str:
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


def ensure_file(
    lines: int, first_order: int = 10100, tag: str = "full", customers: int | None = None
) -> Path:
    from devtools.sample_data import write_csv

    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"orders_{lines}_{tag}.csv"
    if not path.exists():
        write_csv(path, n_lines=lines, seed=7, n_customers=customers, first_order_number=first_order)
    return path


class ScratchDB:
    def __init__(self) -> None:
        self.server = server_url()
        self.name = f"vsr_bench_{uuid.uuid4().hex[:8]}"
        self.url = self.server.rsplit("/", 1)[0] + "/" + self.name

    def __enter__(self) -> str:
        import psycopg

        with psycopg.connect(self.server, autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{self.name}"')
        return self.url

    def __exit__(self, *exc) -> None:
        import psycopg

        with psycopg.connect(self.server, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def copy_ceiling(conn, path: Path, pg_encoding: str, server_cpu: list | None = None) -> float:
    """Seconds of a plain COPY of the file into an unlogged table of 25 text columns, no index (and
    the server's CPU seconds for it appended to ``server_cpu``, when given and readable)."""
    from cpu_time import Meter

    from vehicle_sales.common.columns import sql_names

    conn.execute(f"CREATE UNLOGGED TABLE copy_ceiling ({', '.join(c + ' text' for c in sql_names())})")
    conn.commit()
    meter = Meter(conn)
    with (
        conn.cursor() as cur,
        open(path, "rb") as fh,
        cur.copy(f"COPY copy_ceiling FROM STDIN (FORMAT csv, HEADER true, ENCODING '{pg_encoding}')") as cp,
    ):
        while chunk := fh.read(1 << 20):
            cp.write(chunk)
    conn.commit()
    meter.mark("copy")
    conn.execute("DROP TABLE copy_ceiling")
    conn.commit()
    if server_cpu is not None and meter.steps["copy"]["server_cpu_s"] is not None:
        server_cpu.append(meter.steps["copy"]["server_cpu_s"])
    return meter.steps["copy"]["wall_s"]


def _median(values: list[float]) -> float:
    """The median: the middle value, or the mean of the middle two of an even count (the DAG runs
    take six samples: their upper middle one would favour us)."""
    v = sorted(values)
    mid = len(v) // 2
    return v[mid] if len(v) % 2 else (v[mid - 1] + v[mid]) / 2


def _median_run(runs: list[dict]) -> dict:
    """The run of median total time (an odd number of runs: the middle one)."""
    return sorted(runs, key=lambda run: run["total"])[len(runs) // 2]


def ceiling(samples: list[float]) -> dict:
    """The ceiling of a run: the median of its COPY samples, taken before and after the work they
    bound (the machine's speed drifts within a run: one sample can be lucky or unlucky), and all of
    them."""
    return {"copy_s": round(_median(samples), 3), "copy_samples": [round(x, 3) for x in samples]}


def steps(conn, path: Path, label: str) -> dict:
    """The data-dependent tasks' work, timed, in-process."""
    from cpu_time import Meter

    from support import refresh_core
    from vehicle_sales.ingest import download, encoding, reference, staging

    meter = Meter(conn)  # wall, and who worked meanwhile: this process, the server
    fetched = download.fetch(download.parse_source(str(path)), DATA / "downloads", roots=(DATA,))
    reg = download.register(conn, fetched, fetched.lines, label)
    meter.mark("download")
    choice = encoding.choose_encoding(path, "auto")
    counts = staging.stage_file(conn, path, reg.file_id, choice.codec, sha256=fetched.sha256)
    meter.mark("stage")
    reference.load_reference_data(conn)
    meter.mark("reference")
    refresh_core(conn, run_id=label)
    meter.mark("refresh")
    assert counts.balanced() and counts.rejected == 0, counts.summary()
    out: dict = {name: step["wall_s"] for name, step in meter.steps.items()}
    out["total"] = meter.total()["wall_s"]
    out["lines"] = counts.read
    out["stage_detail"] = counts.seconds
    out["cpu"] = {
        name: {k: step[k] for k in ("python_cpu_s", "server_cpu_s")} for name, step in meter.steps.items()
    }
    out["cpu"]["total"] = {k: v for k, v in meter.total().items() if k != "wall_s"}
    return out


def bulk_threshold() -> int:
    """The bulk path's threshold, as sql/common/bulk_load.sql sets it."""
    from vehicle_sales.common.sql import environment

    macro = "{% import 'common/bulk_load.sql' as bulk %}{{ bulk.threshold }}"
    return int(environment().from_string(macro).render())


def one_size(lines: int) -> dict:
    import psycopg

    from vehicle_sales.common.schema import apply_schema
    from vehicle_sales.ingest import reference
    from vehicle_sales.ingest.encoding import choose_encoding
    from vehicle_sales.ingest.screen import PG_ENCODINGS

    customers = max(92, lines // 30)
    full = ensure_file(lines, customers=customers)
    deltas = [
        ensure_file(
            max(lines // 100, 1),
            first_order=10_000_000 * (k + 1),
            tag="delta" + (str(k + 1) if k else ""),
            customers=customers,
        )
        for k in range(INCREMENTAL_RUNS)
    ]
    smalls = [
        ensure_file(
            SMALL_LINES,
            first_order=10_000_000 * (INCREMENTAL_RUNS + 2 + k),
            tag="small" + str(k + 1),
            customers=customers,
        )
        for k in range(INCREMENTAL_RUNS)
    ]
    mid = (
        ensure_file(
            round(lines * MID_SHARE),
            first_order=10_000_000 * (INCREMENTAL_RUNS + 1),
            tag="mid",
            customers=customers,
        )
        if lines * MID_SHARE >= bulk_threshold()
        else None
    )
    pg_encoding = PG_ENCODINGS[choose_encoding(full, "auto").codec]
    result: dict = {"lines": lines}
    server_cpu: list[float] = []  # the server's CPU seconds of each ceiling COPY
    samples: list[float] = []
    fulls: list[dict] = []
    for k in range(FULL_RUNS - 1):  # the first full runs: each on a new warehouse, dropped after
        with ScratchDB() as url, psycopg.connect(url) as conn:
            apply_schema(conn)
            reference.load_reference_data(conn)
            samples.append(copy_ceiling(conn, full, pg_encoding, server_cpu))
            fulls.append(steps(conn, full, f"full {k + 1}"))
    with ScratchDB() as url, psycopg.connect(url) as conn:
        apply_schema(conn)
        reference.load_reference_data(conn)  # as the first run of a new warehouse did
        samples.append(copy_ceiling(conn, full, pg_encoding, server_cpu))
        fulls.append(steps(conn, full, "full"))
        samples.append(copy_ceiling(conn, full, pg_encoding, server_cpu))
        result["full"] = _median_run(fulls)
        result["full_runs_s"] = [run["total"] for run in fulls]
        runs = [steps(conn, delta, f"incremental {k + 1}") for k, delta in enumerate(deltas)]
        small_runs = [steps(conn, small, f"small {k + 1}") for k, small in enumerate(smalls)]
        samples.append(copy_ceiling(conn, full, pg_encoding, server_cpu))
        if mid is not None:  # as large as a bulk load, but a small share of the warehouse
            result["mid"] = steps(conn, mid, "mid-size")
        result.update(ceiling(samples))
        result["copy_server_cpu_s"] = _median(server_cpu) if server_cpu else None
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    result["ratio"] = round(result["full"]["total"] / result["copy_s"], 2)
    result["incremental_runs_s"] = [run["total"] for run in runs]
    result["incremental_1pct"] = _median_run(runs)
    result["incremental_share"] = round(result["incremental_1pct"]["total"] / result["full"]["total"], 4)
    # what any run costs (a file of SMALL_LINES lines), and what the +1 % file's lines cost over it
    result["small_runs_s"] = [run["total"] for run in small_runs]
    result["small"] = _median_run(small_runs)
    result["incremental_lines_share"] = round(
        (result["incremental_1pct"]["total"] - result["small"]["total"]) / result["full"]["total"], 4
    )
    if "mid" in result:
        result["mid_share"] = round(result["mid"]["total"] / result["full"]["total"], 4)
    server = result["full"]["cpu"]["total"]["server_cpu_s"]
    result["server_cpu_ratio"] = round(server / result["copy_s"], 2) if server is not None else None
    return result


DAG_REPEATS = 3  # pairs of DAG runs (the 100-line file, then the file) per size; medians are reported


def dag_size(lines: int, repeats: int = DAG_REPEATS) -> dict:
    """Real DAG runs on the file and on a 100-line file: the four data tasks' durations.

    The process's first DAG run imports and warms what every later run finds ready (the task
    modules, numpy and pandas, the DAG's parse): it is a warm-up on the 100-line file, not counted
    (counted, it made the small run slow and so the file's extra time look smaller than it is).
    Then ``repeats`` pairs, the 100-line file and the file, each on a new warehouse; every task's
    duration is the median over the pairs, and the ceiling is the median of a COPY before and after
    each run on the file."""
    import psycopg
    from airflow.utils import db as airflow_db

    from support import run_dag
    from vehicle_sales.common.schema import apply_schema
    from vehicle_sales.ingest.encoding import choose_encoding
    from vehicle_sales.ingest.screen import PG_ENCODINGS

    full = ensure_file(lines, customers=max(92, lines // 30))
    small = ensure_file(100, first_order=90_000_000, tag="small", customers=92)
    airflow_db.resetdb()
    out: dict = {"lines": lines, "repeats": repeats}
    durations: dict[str, list[dict]] = {"warm-up": [], "small": [], "full": []}
    pg_encoding = PG_ENCODINGS[choose_encoding(full, "auto").codec]
    samples: list[float] = []
    order = [("warm-up", small)] + [
        pair for _ in range(repeats) for pair in (("small", small), ("full", full))
    ]
    for label, path in order:
        with ScratchDB() as url:
            os.environ["AIRFLOW_CONN_SALES_DB"] = url
            os.environ["AIRFLOW_VAR_SALES_SOURCE"] = str(path)
            if label == "full":
                with psycopg.connect(url) as conn:
                    apply_schema(conn)
                    samples.append(copy_ceiling(conn, path, pg_encoding))
            dr, states = run_dag("2005-06-01")
            if label == "full":  # after the run too, on the same database
                with psycopg.connect(url) as conn:
                    samples.append(copy_ceiling(conn, path, pg_encoding))
            assert dr.state == "success", states
            tis = {ti.task_id: ti for ti in dr.get_task_instances()}
            durations[label].append(
                {t: round((tis[t].end_date - tis[t].start_date).total_seconds(), 3) for t in DATA_TASKS}
            )
    median = {
        label: {t: _median([d[t] for d in runs]) for t in DATA_TASKS}
        for label, runs in durations.items()
        if runs
    }
    out["tasks_full"] = median["full"]
    out["tasks_small"] = median["small"]
    out["tasks_warm_up"] = durations["warm-up"][0]
    out["runs_full"], out["runs_small"] = durations["full"], durations["small"]
    extra = {t: round(median["full"][t] - median["small"][t], 3) for t in DATA_TASKS}
    out["data_dependent"] = extra
    out["data_dependent_s"] = round(sum(extra.values()), 3)
    out["data_dependent_each_s"] = [
        round(sum(f[t] - s[t] for t in DATA_TASKS), 3)
        for f, s in zip(durations["full"], durations["small"], strict=True)
    ]
    out.update(ceiling(samples))
    out["ratio"] = round(out["data_dependent_s"] / out["copy_s"], 2)
    return out


def _range(r: dict) -> str:
    return f"{min(r['copy_samples']):.2f}-{max(r['copy_samples']):.2f}"


def _cpu(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def print_where_time_goes(rows: list[dict]) -> None:
    """The full runs' wall time beside the CPU time of this process and of the server, by step: when
    the server's CPU alone is over the target, no client-side change can meet it."""
    print("\nWhere the full run's time goes: wall s / Python CPU s / PostgreSQL server CPU s (from /proc):")
    print(
        f"{'lines':>9} {'download':>17} {'stage':>17} {'reference':>17} {'refresh':>17} {'total':>17}"
        f" {'server/COPY':>12} {'COPY server CPU':>16}"
    )
    for r in rows:
        f, cpu = r["full"], r["full"]["cpu"]
        cells = [
            f"{f[k]:.2f}/{_cpu(cpu[k]['python_cpu_s'])}/{_cpu(cpu[k]['server_cpu_s'])}"
            for k in ("download", "stage", "reference", "refresh", "total")
        ]
        ratio = "n/a" if r.get("server_cpu_ratio") is None else f"{r['server_cpu_ratio']:.1f}x"
        print(
            f"{r['lines']:>9} " + " ".join(f"{c:>17}" for c in cells) + f" {ratio:>12}"
            f" {_cpu(r.get('copy_server_cpu_s')):>16}"
        )


def _server_bound(r: dict) -> str:
    """For a missed steps ratio: how much of it is the server's CPU alone."""
    ratio = r.get("server_cpu_ratio")
    return "" if ratio is None else f" (PostgreSQL's CPU alone: {ratio:.1f}x)"


def _child(mode: str, size: int, extra: tuple[str, ...] = ()) -> dict:
    env = dict(os.environ)
    if mode == "dag":  # an Airflow home of its own, as the tests have
        import tempfile

        home = tempfile.mkdtemp(prefix="vsr-bench-airflow-")
        env.update(
            {
                "AIRFLOW_HOME": home,
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
                "AIRFLOW_VAR_SALES_DOWNLOAD_DIR": f"{home}/downloads",
                "AIRFLOW_VAR_SALES_SOURCE_ROOTS": str(DATA),  # the benchmark's files
                "AIRFLOW_VAR_RFM_REPORTS_DIR": f"{home}/reports",
                "AIRFLOW_VAR_GEOCODE_ENABLED": "false",
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            }
        )
    out = subprocess.run(
        [sys.executable, __file__, f"--{mode}-one", str(size), *extra],
        capture_output=True,
        text=True,
        env=env,
    )
    if out.returncode:
        sys.stderr.write(out.stderr[-4000:])
        raise SystemExit(f"{mode} benchmark at {size} lines failed")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--dag-sizes", default="100000,1000000", help="'' to skip the DAG runs")
    ap.add_argument(
        "--dag-repeats", type=int, default=DAG_REPEATS, help="pairs of DAG runs per size, after a warm-up"
    )
    ap.add_argument("--json", type=Path)
    ap.add_argument("--steps-one", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--dag-one", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.steps_one:
        print(json.dumps(one_size(args.steps_one)))
        return 0
    if args.dag_one:
        print(json.dumps(dag_size(args.dag_one, args.dag_repeats)))
        return 0
    rows = [_child("steps", int(s)) for s in args.sizes.split(",") if s]
    print("Ingestion steps in-process, against a plain COPY of the same file (same run):")
    print(
        f"{'lines':>9} {'COPY s':>7} {'range':>11} {'download':>9} {'stage':>7} {'reference':>10} {'refresh':>8} {'total s':>8}"
        f" {'ratio':>6} {'peak MB':>8} {'+1% s':>7} {'+1% share':>10}"
    )
    for r in rows:
        f, d = r["full"], r["incremental_1pct"]
        print(
            f"{r['lines']:>9} {r['copy_s']:>7.2f} {_range(r):>11} {f['download']:>9.2f} {f['stage']:>7.2f} {f['reference']:>10.2f}"
            f" {f['refresh']:>8.2f} {f['total']:>8.2f} {r['ratio']:>5.1f}x {r['peak_rss_mb']:>8} {d['total']:>7.2f}"
            f" {r['incremental_share']:>10.1%}"
        )
    print(
        f"(full runs: the median of {FULL_RUNS}, each into a new warehouse: "
        + "; ".join(
            f"{r['lines']:,} lines " + ", ".join(f"{x:.2f}" for x in r["full_runs_s"]) + " s" for r in rows
        )
        + ")"
    )
    print(
        f"(+1 %: the median of {INCREMENTAL_RUNS} runs, each adding 1 % new lines: "
        + "; ".join(
            f"{r['lines']:,} lines " + ", ".join(f"{x * 1000:.0f}" for x in r["incremental_runs_s"]) + " ms"
            for r in rows
        )
        + ")"
    )
    print(
        f"(of which any run costs, a file of {SMALL_LINES} new lines through the same steps, the median of"
        f" {INCREMENTAL_RUNS}: "
        + "; ".join(
            f"{r['lines']:,} lines " + ", ".join(f"{x * 1000:.0f}" for x in r["small_runs_s"]) + " ms,"
            f" {r['small']['total'] / r['full']['total']:.1%} of the full run, the +1 % file's lines the rest,"
            f" {r['incremental_lines_share']:.1%}"
            for r in rows
        )
        + ")"
    )
    for r in rows:
        if "mid" in r:
            m = r["mid"]
            print(
                f"(then a file of {MID_SHARE * 100:.0f} % new lines, {m['lines']:,}: over the bulk path's threshold, a small"
                f" share of the warehouse: stage {m['stage']:.2f} s, refresh {m['refresh']:.2f} s, in all"
                f" {m['total']:.2f} s, {r['mid_share']:.1%} of the full run)"
            )
    print_where_time_goes(rows)
    dags = [
        _child("dag", int(s), ("--dag-repeats", str(args.dag_repeats)))
        for s in args.dag_sizes.split(",")
        if s
    ]
    if dags:
        print("\nReal DAG runs (dag.test): the four data tasks on the file minus on a 100-line file:")
        print(
            f"{'lines':>9} {'COPY s':>7} {'range':>11} "
            + " ".join(f"{t:>20}" for t in DATA_TASKS)
            + f" {'total s':>8} {'ratio':>6}"
        )
        for r in dags:
            print(
                f"{r['lines']:>9} {r['copy_s']:>7.2f} {_range(r):>11} "
                + " ".join(f"{r['data_dependent'][t]:>20.2f}" for t in DATA_TASKS)
                + f" {r['data_dependent_s']:>8.2f} {r['ratio']:>5.1f}x"
            )
        print(
            "(medians of each task over pairs of runs after a warm-up run; each pair's data-dependent s: "
            + "; ".join(
                f"{r['lines']:,} lines " + ", ".join(f"{x:.2f}" for x in r["data_dependent_each_s"])
                for r in dags
            )
            + ")"
        )
    print(
        f"\ntargets: ratio <= {TARGET_RATIO:.0f}x at 100k and 1M lines; +1% run < {TARGET_INCREMENTAL:.0%} of the"
        " full run"
    )
    missed = [
        f"{r['lines']:,} lines, {kind}: {r['ratio']:.1f}x the COPY ceiling > {TARGET_RATIO:.0f}x{_server_bound(r)}"
        for kind, group in (("steps", rows), ("DAG run", dags))
        for r in group
        if r["lines"] >= 100_000 and r["ratio"] > TARGET_RATIO
    ] + [
        f"{r['lines']:,} lines: the +1% run is {r['incremental_share']:.1%} of the full run"
        for r in rows
        if r["lines"] >= 100_000 and r["incremental_share"] >= TARGET_INCREMENTAL
    ]
    for m in missed:
        print(f"TARGET MISSED: {m}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"steps": rows, "dag": dags, "missed": missed}, indent=2))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())

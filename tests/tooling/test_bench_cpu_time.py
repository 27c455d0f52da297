"""bench/cpu_time.py: the CPU time of this process and of the PostgreSQL server, for make bench's
"where does the time go". Parsing and accounting on a /proc tree laid out here, and once on the
real server (what it reads is the server's, and grows with the server's work)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import psycopg
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from cpu_time import TICK, Meter, ProcStat, parse_stat, server_seconds, tree_ticks  # noqa: E402


def _stat_line(
    pid: int, comm: str, ppid: int, utime: int, stime: int, cutime: int = 0, cstime: int = 0
) -> str:
    # fields 1..17 of /proc/<pid>/stat, then a few more as the kernel writes them
    fields = [
        pid,
        f"({comm})",
        "S",
        ppid,
        pid,
        pid,
        0,
        -1,
        4194560,
        10,
        0,
        0,
        0,
        utime,
        stime,
        cutime,
        cstime,
    ]
    return " ".join(map(str, fields)) + " 20 0 1 0 100 1000 50\n"


def test_a_stat_line_is_read_by_field_position_after_the_command_name():
    st = parse_stat(_stat_line(42, "postgres: walwriter", 7, 11, 12, 13, 14))
    assert st == ProcStat(ppid=7, utime=11, stime=12, cutime=13, cstime=14)


def test_a_command_name_with_parentheses_and_spaces_does_not_shift_the_fields():
    st = parse_stat(_stat_line(42, "postgres: user db (x) idle", 7, 1, 2, 3, 4))
    assert st == ProcStat(ppid=7, utime=1, stime=2, cutime=3, cstime=4)


def test_the_tree_counts_reaped_children_through_the_root_and_live_children_by_themselves():
    root = ProcStat(ppid=1, utime=10, stime=5, cutime=100, cstime=20)  # 120: parallel workers gone
    children = [ProcStat(7, 30, 3, 999, 999), ProcStat(7, 2, 1, 0, 0)]  # a child's own reaped: not ours
    assert tree_ticks(root, children) == 10 + 5 + 100 + 20 + 33 + 3


def _fake_proc(tmp_path: Path, stats: dict[int, str]) -> Path:
    for pid, text in stats.items():
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "stat").write_text(text)
    (tmp_path / "self").mkdir()  # not a process number: skipped
    return tmp_path


def test_the_server_is_its_postmaster_and_the_postmasters_children_only(tmp_path):
    proc = _fake_proc(
        tmp_path,
        {
            7: _stat_line(7, "postgres", 1, 100, 50, 200, 100),
            8: _stat_line(8, "postgres: checkpointer", 7, 10, 10),
            9: _stat_line(9, "postgres: user db idle", 7, 40, 0),
            10: _stat_line(10, "python", 1, 5000, 5000),  # another process: not the server's
            11: _stat_line(11, "psql", 9, 7000, 0),  # a grandchild: not a server process
        },
    )
    assert server_seconds(7, proc) == pytest.approx((100 + 50 + 200 + 100 + 20 + 40) / TICK)
    assert server_seconds(12345, proc) is None  # no such postmaster: unreadable, not zero


def test_the_meter_sees_the_real_servers_cpu_grow_with_its_work(pg_server_url):
    with psycopg.connect(pg_server_url) as conn:
        meter = Meter(conn)
        if meter.postmaster is None:
            pytest.skip("the test server does not run on this machine")
        conn.execute("SELECT count(*) FROM generate_series(1, 3000000)").fetchone()
        meter.mark("busy")
        conn.execute("SELECT 1").fetchone()
        meter.mark("idle")
    busy, idle = meter.steps["busy"], meter.steps["idle"]
    assert busy["server_cpu_s"] >= 0.05 and busy["server_cpu_s"] <= busy["wall_s"] * 4
    assert busy["python_cpu_s"] < busy["server_cpu_s"]  # the client only waited
    assert idle["server_cpu_s"] < busy["server_cpu_s"]
    assert meter.total()["wall_s"] == pytest.approx(busy["wall_s"] + idle["wall_s"], abs=0.002)


def test_reading_proc_is_counted_in_no_step(pg_server_url, monkeypatch):
    """The meter's own reading of /proc (slow here on purpose) adds nothing to a step's wall time
    or this process's CPU time: a step that does nothing measures about nothing."""
    import cpu_time

    def slow(postmaster, proc=cpu_time.PROC):
        deadline = time.process_time() + 0.05
        while time.process_time() < deadline:  # 50 ms of CPU, as a large /proc would cost
            pass
        return 1.0

    monkeypatch.setattr(cpu_time, "server_seconds", slow)
    with psycopg.connect(pg_server_url) as conn:
        meter = Meter(conn)
        meter.postmaster = 1  # read the (slow) server figure at every mark
        meter.mark("nothing")
        meter.mark("nothing again")
    for step in meter.steps.values():
        assert step["wall_s"] < 0.03 and step["python_cpu_s"] < 0.03, meter.steps

"""Where a benchmark's time goes: CPU seconds of this process and of the PostgreSQL server.

A step's wall time says how long it took; the two CPU figures say who was working meanwhile. When
the server's CPU alone is over a target, no change on the client side can meet it; when the wall
time is well over the sum of both, something waited (a lock, the disk, the other core).

The server's CPU is read from ``/proc``: the postmaster's own time and its reaped children's
(``cutime``/``cstime``: parallel workers that came and went), plus each live child's (backends,
WAL writer, checkpointer, autovacuum). Only when the server runs on this machine, under Linux, and
its processes can be read: otherwise the figure is None and the benchmark says "n/a".
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100  # the unit of /proc's times


@dataclass(frozen=True)
class ProcStat:
    """The fields of /proc/<pid>/stat this module reads (times in clock ticks)."""

    ppid: int
    utime: int
    stime: int
    cutime: int
    cstime: int


def parse_stat(text: str) -> ProcStat:
    """Parse the text of /proc/<pid>/stat. The command name, in parentheses, may itself hold spaces
    and parentheses: the fields are counted from the last ')'."""
    rest = text[text.rindex(")") + 2 :].split()
    # rest[0] is field 3 (state): ppid is field 4, utime..cstime fields 14..17
    return ProcStat(int(rest[1]), int(rest[11]), int(rest[12]), int(rest[13]), int(rest[14]))


def _stat(pid: int, proc: Path) -> ProcStat | None:
    try:
        return parse_stat((proc / str(pid) / "stat").read_text())
    except (OSError, ValueError, IndexError):
        return None  # gone meanwhile, or not readable


def tree_ticks(root: ProcStat, children: list[ProcStat]) -> int:
    """CPU ticks of a server process tree so far: the root's own and its reaped children's, plus
    each live child's own."""
    return root.utime + root.stime + root.cutime + root.cstime + sum(c.utime + c.stime for c in children)


def server_seconds(postmaster: int, proc: Path = PROC) -> float | None:
    """CPU seconds used so far by the server whose postmaster is ``postmaster``, or None."""
    root = _stat(postmaster, proc)
    if root is None:
        return None
    children = []
    for entry in proc.iterdir():
        if entry.name.isdigit():
            st = _stat(int(entry.name), proc)
            if st is not None and st.ppid == postmaster:
                children.append(st)
    return tree_ticks(root, children) / TICK


def postmaster_of(conn, proc: Path = PROC) -> int | None:
    """The postmaster of ``conn``'s server when that server runs here (its backend's parent), or None."""
    backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    st = _stat(int(backend), proc)
    return st.ppid if st is not None else None


class Meter:
    """Wall, this process's CPU and the server's CPU between successive :meth:`mark` calls.

    ``Meter(conn)``, then ``mark("stage")`` after each step: :attr:`steps` holds, for each, its
    ``wall_s``, ``python_cpu_s`` and ``server_cpu_s`` (None when the server cannot be read)."""

    def __init__(self, conn) -> None:
        self.postmaster = postmaster_of(conn)
        self.steps: dict[str, dict[str, float | None]] = {}
        self._last = self._start()

    # Reading /proc (some 800 files, ~12 ms) is nobody's step: a step ends with the clocks read
    # before the server's CPU, the next one starts with them read after it (read after it at both
    # ends, every step counted one reading of /proc).
    @staticmethod
    def _clocks() -> tuple[float, float]:
        return time.perf_counter(), time.process_time()

    def _server(self) -> float | None:
        return server_seconds(self.postmaster) if self.postmaster is not None else None

    def _start(self) -> tuple[float, float, float | None]:
        server = self._server()
        return (*self._clocks(), server)

    def mark(self, name: str) -> None:
        (w1, p1), s1 = self._clocks(), self._server()
        w0, p0, s0 = self._last
        self.steps[name] = {
            "wall_s": round(w1 - w0, 3),
            "python_cpu_s": round(p1 - p0, 3),
            "server_cpu_s": round(s1 - s0, 3) if s0 is not None and s1 is not None else None,
        }
        self._last = self._start()

    def total(self) -> dict[str, float | None]:
        """The steps' figures added up (None when any step's is)."""
        out: dict[str, float | None] = {}
        for key in ("wall_s", "python_cpu_s", "server_cpu_s"):
            values = [s[key] for s in self.steps.values()]
            out[key] = None if any(v is None for v in values) else round(sum(values), 3)
        return out

"""What a soak watches in the processes it started, read from /proc (Linux), and the trend
of a series.

/proc rather than a library: the figures needed are three numbers per process, and the
service's dependencies stay what production installs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
MIB = 1024 * 1024
TICKS = os.sysconf("SC_CLK_TCK")


def parent_of(pid: int) -> int | None:
    """The parent pid from /proc/PID/stat (after the parenthesised command name, which
    may itself contain spaces or parentheses); None if the process is gone."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def process_tree(root: int) -> list[int]:
    """`root` and every process descended from it, alive now."""
    parents = {int(entry.name): parent_of(int(entry.name)) for entry in pids()}
    tree, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        tree += frontier
    return [pid for pid in tree if pid in parents]


def pids() -> Iterable[Path]:
    return (entry for entry in PROC.iterdir() if entry.name.isdigit())


def children_running(parent: int, word: str) -> list[int]:
    """Direct children of `parent` whose command line contains `word`."""
    found = []
    for entry in pids():
        if parent_of(int(entry.name)) != parent:
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if word in command:
            found.append(int(entry.name))
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far; 0 for a process that is gone."""
    try:
        fields = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_bytes(pid: int) -> int:
    """Resident set size; 0 for a process that is gone."""
    try:
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def open_fds(pid: int) -> int:
    try:
        return len(os.listdir(PROC / str(pid) / "fd"))
    except OSError:
        return 0


@dataclass(frozen=True)
class Usage:
    rss_mib: float
    fds: int
    cpu_seconds: float


def usage(pids_: Iterable[int]) -> Usage:
    """Summed over the processes: a service is its supervisor and its workers."""
    listed = list(pids_)
    return Usage(
        sum(rss_bytes(pid) for pid in listed) / MIB,
        sum(open_fds(pid) for pid in listed),
        sum(cpu_seconds(pid) for pid in listed),
    )


def slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of ys over xs (0 with fewer than two distinct xs)."""
    n = len(xs)
    if n < 2:
        return 0.0
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread

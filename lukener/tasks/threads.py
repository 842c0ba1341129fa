"""How many CPU threads torch uses: ``--threads N``, or by default the cores this process
may run on less those other processes keep busy right now.

torch's default (every core) collapses when the cores are shared: its worker threads wait
for each other at every operation, and one that another process holds off its core stalls
the rest, many times slower (bench/results/throughput.md, "busy CPU"). Asking for the idle
cores only keeps each thread on a core of its own.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

SAMPLE_SECONDS = 0.2


def _cpu_times() -> tuple[int, int] | None:
    """``(busy, total)`` jiffies of all cores, from /proc/stat (Linux)."""
    try:
        with Path("/proc/stat").open(encoding="ascii") as stream:
            fields = [int(x) for x in stream.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def busy_cores(seconds: float = SAMPLE_SECONDS) -> float:
    """How many cores other processes keep busy, measured over ``seconds`` (0 when the
    system does not say)."""
    before = _cpu_times()
    if before is None:
        return 0.0
    time.sleep(seconds)
    after = _cpu_times()
    if after is None or after[1] == before[1]:
        return 0.0
    share = (after[0] - before[0]) / (after[1] - before[1])
    return share * (os.cpu_count() or 1)


def load_average() -> float | None:
    """The 1-minute load average (Linux), or None."""
    try:
        return float(Path("/proc/loadavg").read_text(encoding="ascii").split()[0])
    except (OSError, ValueError, IndexError):
        return None


def default_threads() -> int:
    """The idle cores of this process's share, at least one. A core counts as busy only
    when it is busy now and has been over the last minute (the lower of the two), so a
    moment's work of another process, say an import, does not cost a long run a thread."""
    busy = busy_cores()
    recent = load_average()
    if recent is not None:
        busy = min(busy, recent)
    return max(1, round(available_cores() - busy))


def configure_threads(requested: int | None) -> int:
    """Set torch's intra-op threads to ``requested`` (or :func:`default_threads`); returns
    the number set."""
    import torch

    threads = requested if requested else default_threads()
    if threads != torch.get_num_threads():
        torch.set_num_threads(threads)
    return threads

"""What a server process costs, read from ``/proc`` (Linux): resident memory and CPU time.

``utime + stime`` in ``/proc/<pid>/stat`` count every thread of the process, so a
server's thread pools are included; they are in clock ticks (``SC_CLK_TCK``, usually
100 per second), which bounds the resolution of a CPU reading to 10 ms of CPU time.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cpu_seconds", "rss_bytes"]

_TICKS = os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    """Resident set size (``VmRSS``) of the process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid} (a zombie?)")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far, all threads, in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) is in parentheses and may contain spaces: split after it.
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of the whole line
    return (utime + stime) / _TICKS

"""The ceiling: what the Redis server itself does on this machine, by ``valkey-benchmark``
or ``redis-benchmark`` (50 clients, as in the anchor figures), unpipelined and with 16
commands per pipeline. No Python layer can move messages faster than this."""

from __future__ import annotations

import csv
import io
import subprocess

__all__ = ["TESTS", "ceiling", "tool_version"]

TESTS = ("lpush", "rpop", "set")
CLIENTS = 50


def tool_version(binary: str) -> str:
    done = subprocess.run(
        [binary, "--version"], capture_output=True, text=True, timeout=10, check=False
    )
    return done.stdout.strip() or binary


def _parse_csv(text: str) -> dict[str, float]:
    """``{"LPUSH": ops/s, ...}`` from ``--csv`` output (a header row, then one per test)."""
    rates: dict[str, float] = {}
    for row in csv.reader(io.StringIO(text)):
        if len(row) >= 2 and row[0] != "test":
            rates[row[0].lower()] = float(row[1])
    return rates


def ceiling(binary: str, port: int, *, requests: int, pipeline: int) -> dict[str, float]:
    """Ops/s per test; ``pipeline`` 1 is unpipelined. Bounded by a timeout."""
    args = [binary, "-h", "127.0.0.1", "-p", str(port), "-c", str(CLIENTS)]
    args += ["-n", str(requests), "-P", str(pipeline), "-t", ",".join(TESTS), "--csv"]
    # subprocess.run kills the child if we are interrupted or time out.
    done = subprocess.run(args, capture_output=True, text=True, timeout=300, check=True)
    return _parse_csv(done.stdout)

"""HTTP load with ``wrk``: requests per second and the latency percentiles it prints.

``wrk --latency`` reports the 50/75/90/99th percentiles of its HdrHistogram; we keep
p50 and p99. Responses that are not 2xx/3xx and socket errors (connect, read, write,
timeout) are counted, so a server that answers fast with errors is visible as such.
Every run is bounded: ``-d`` plus a subprocess timeout of the same plus a margin.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

__all__ = ["WrkResult", "run_wrk", "wrk_binary", "wrk_version"]

_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


@dataclass(frozen=True)
class WrkResult:
    rate: float  # requests per second
    p50: float  # seconds
    p99: float
    requests: int
    errors: int  # non-2xx/3xx responses plus socket errors

    def detail(self) -> dict[str, float | int]:
        return {"requests": self.requests, "errors": self.errors}


def wrk_binary() -> str | None:
    return shutil.which("wrk")


def wrk_version(binary: str) -> str:
    done = subprocess.run([binary, "-v"], capture_output=True, text=True, timeout=10)
    lines = (done.stdout or done.stderr).splitlines()
    return lines[0].split(" Copyright")[0].strip() if lines else "wrk"


def _seconds(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if found is None:
        raise ValueError(f"unreadable wrk latency {text!r}")
    return float(found.group(1)) * _UNITS[found.group(2)]


def _parse(out: str) -> WrkResult:
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    total = re.search(r"^\s+(\d+) requests in", out, re.M)
    if not (rate and p50 and p99 and total):
        raise RuntimeError(f"unreadable wrk output:\n{out}")
    errors = 0
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if non2xx:
        errors += int(non2xx.group(1))
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    if sockets:
        errors += sum(int(n) for n in sockets.groups())
    return WrkResult(
        float(rate.group(1)),
        _seconds(p50.group(1)),
        _seconds(p99.group(1)),
        int(total.group(1)),
        errors,
    )


def run_wrk(
    binary: str, url: str, *, seconds: int, connections: int = 64, threads: int = 2
) -> WrkResult:
    """One bounded wrk run against ``url`` (keep-alive connections, GET)."""
    args = [binary, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
    done = subprocess.run(
        [*args, "--latency", url], capture_output=True, text=True, timeout=seconds + 30
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk exited {done.returncode}: {done.stderr.strip()}")
    return _parse(done.stdout)

"""HTTP/2 load with ``h2load`` (nghttp2): requests per second and failures.

``h2load`` speaks HTTP/2 over TLS (ALPN ``h2``) for ``https://`` URLs and h2c by prior
knowledge for ``http://`` ones. It prints no latency percentiles (only min/max/mean of
"time for request"), so the HTTP/2 rows have req/s, CPU and errors. Non-2xx answers and
failed or errored requests count as errors. Every run is bounded: ``-D`` plus a
subprocess timeout of the same plus a margin.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

__all__ = ["H2Result", "h2load_binary", "h2load_version", "run_h2load"]


@dataclass(frozen=True)
class H2Result:
    rate: float  # requests per second
    mean: float  # seconds, mean time per request
    requests: int
    errors: int

    def detail(self) -> dict[str, float | int]:
        return {"requests": self.requests, "errors": self.errors}


def h2load_binary() -> str | None:
    return shutil.which("h2load")


def h2load_version(binary: str) -> str:
    done = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
    return (done.stdout or done.stderr).strip().splitlines()[0]


_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}


def _parse(out: str) -> H2Result:
    rate = re.search(r"^finished in [\d.]+\w+, ([\d.]+) req/s", out, re.M)
    done = re.search(
        r"^requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, "
        r"(\d+) errored, (\d+) timeout",
        out,
        re.M,
    )
    codes = re.search(r"^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out, re.M)
    mean = re.search(r"^time for request:\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)", out, re.M)
    if not (rate and done and codes and mean):
        raise RuntimeError(f"unreadable h2load output:\n{out}")
    failed = int(done.group(4)) + int(done.group(5)) + int(done.group(6))
    errors = failed + int(codes.group(3)) + int(codes.group(4))
    return H2Result(
        float(rate.group(1)),
        float(mean.group(1)) * _UNITS[mean.group(2)],
        int(done.group(2)),
        errors,
    )


def run_h2load(
    binary: str, url: str, *, seconds: int, clients: int = 16, streams: int = 4, threads: int = 2
) -> H2Result:
    """One bounded run: ``clients`` connections with ``streams`` requests in flight each."""
    args = [binary, f"-t{threads}", f"-c{clients}", f"-m{streams}", f"-D{seconds}"]
    done = subprocess.run([*args, url], capture_output=True, text=True, timeout=seconds + 30)
    if done.returncode != 0:
        raise RuntimeError(f"h2load exited {done.returncode}: {done.stderr.strip()}")
    return _parse(done.stdout)

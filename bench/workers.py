"""What a second worker buys: ``telephonist serve`` with one and then two
``telephonist worker`` processes over a private Redis/Valkey server, under ``wrk``; and,
beside them, one worker with twice the threads.

Run it with::

    .venv/bin/python bench/workers.py [--quick] [--repeat N] [--duration S]

Needs ``wrk`` (``scripts/peers/bench.sh``). The application is ``bench/scaling``: three
consumers, one per kind of work (its docstring): ``/async`` answers at once, ``/cpu``
computes about 2 ms of one core (sync, holding the GIL), ``/wait`` waits 20 ms (sync,
the GIL released, as a database call). Each is loaded with ``wrk -t2 -c64`` for
``--duration`` seconds (default 5) after 1 s of warm-up, against each shape in
``SHAPES``; repeats (default 3) interleave the shapes (rotated each repeat), each
deployment started fresh. Printed: medians of requests/s and p99, the ratio to one
worker, and the CPU each process used (percent of one core, from ``/proc``), which shows
what sets the pace: a process near 100% is the bottleneck. Access logs are off and the
log level is WARNING, as in ``bench/http.py``. ``--quick``: one repeat, 2 s runs.

A small machine (the development one has 2 cores, shared) runs the load generator,
Redis, the interface server and the workers on the same cores: a second worker can only
use what the others leave. docs/deploy.md quotes a run and reads it.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/http.py shadows the standard library's ``http``: look in bench/ last (see ws.py).
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE] + [str(_HERE)]

# ruff: noqa: E402
import argparse
import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass

from _procfs import cpu_seconds
from _report import render_table
from _servers import PrivateServer, find_server_binary, private_server
from _web import wait_serving
from _wrk import run_wrk, wrk_binary

from telephonist.testing.processes import Process, free_port

REPO = _HERE.parent
ROUTING = "bench.scaling.routing.routes"
PATHS = ("/async", "/cpu", "/wait")
# (name, workers, worker.threads)
SHAPES = (("1 worker", 1, 16), ("2 workers", 2, 16), ("1 worker, 32 threads", 1, 32))


@dataclass
class Run:
    path: str
    shape: str
    rate: float
    p99: float
    errors: int
    cpu: dict[str, float]  # process -> percent of one core


def _toml(port: int, redis_url: str, threads: int) -> str:
    return "\n".join(
        [
            f'routing = "{ROUTING}"',
            'log_level = "WARNING"',
            "",
            "[worker]",
            f"threads = {threads}",
            "",
            "[layer]",
            'BACKEND = "redis"',
            f'CONFIG = {{ hosts = ["{redis_url}"] }}',
            "",
            "[interfaces.http]",
            f'endpoints = ["tcp:port={port}:interface=127.0.0.1"]',
            "access_log = false",
            "",
        ]
    )


@contextlib.contextmanager
def deployment(
    workers: int, threads: int, redis: PrivateServer
) -> Iterator[tuple[int, dict[str, int]]]:
    """``telephonist serve`` and ``workers`` workers; yields the port and the PIDs
    (Redis's too: its CPU is part of the picture)."""
    with tempfile.TemporaryDirectory(prefix="telephonist-bench-workers-") as tmp:
        directory = Path(tmp)
        port = free_port()
        (directory / "telephonist.toml").write_text(_toml(port, redis.url, threads))
        env = {**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": tmp}
        cli = [sys.executable, "-m", "telephonist.cli"]
        procs: list[Process] = []
        try:
            for i, command in enumerate(["serve", *["worker"] * workers]):
                log = directory / f"{command}-{i}.log"
                procs.append(Process([*cli, command], log=log, cwd=directory, env=env))
            wait_serving(port, procs, announced=procs, path="/async", request_timeout=5)
            names = ["serve", *(f"worker{i}" for i in range(1, workers + 1))]
            pids = {name: proc.pid for name, proc in zip(names, procs, strict=True)}
            yield port, {**pids, "redis": redis.proc.pid}
        finally:
            for proc in procs:  # the interface server first: it drains, then the workers
                proc.stop()


def measure(wrk: str, port: int, pids: dict[str, int], path: str, shape: str, seconds: int) -> Run:
    url = f"http://127.0.0.1:{port}{path}"
    run_wrk(wrk, url, seconds=1)  # warm-up
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    started = time.monotonic()
    result = run_wrk(wrk, url, seconds=seconds)
    wall = time.monotonic() - started
    cpu = {name: 100 * (cpu_seconds(pid) - before[name]) / wall for name, pid in pids.items()}
    return Run(path, shape, result.rate, result.p99, result.errors, cpu)


def report(runs: list[Run]) -> str:
    """Two tables: rates (with the ratio to one worker) and CPU per process."""
    base = SHAPES[0][0]

    def group(path: str, shape: str) -> list[Run]:
        return [r for r in runs if r.path == path and r.shape == shape]

    def rate(path: str, shape: str) -> float:
        return statistics.median(r.rate for r in group(path, shape))

    rates, cpus = [], []
    for path in PATHS:
        row = [path]
        for shape, _, _ in SHAPES:
            p99 = statistics.median(r.p99 for r in group(path, shape)) * 1000
            row.append(f"{rate(path, shape):,.0f} ({p99:.0f} ms)")
            if shape != base:
                row.append(f"{rate(path, shape) / rate(path, base):.2f}x")
        row.append(str(sum(r.errors for r in runs if r.path == path)))
        rates.append(row)
        for shape, _, _ in SHAPES:
            some = group(path, shape)
            names = sorted(some[0].cpu, key=lambda n: (n == "redis", n))
            shown = " ".join(f"{n} {statistics.median(r.cpu[n] for r in some):.0f}%" for n in names)
            cpus.append([path, shape, shown])
    header = ["consumer"]
    for shape, _, _ in SHAPES:
        header.append(f"{shape}: req/s (p99)")
        if shape != base:
            header.append("ratio")
    header.append("errors")
    return (
        render_table(header, rates)
        + "\n\nCPU used, percent of one core:\n"
        + render_table(["consumer", "shape", "CPU"], cpus)
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one repeat, 2 s runs")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    options = parser.parse_args()
    repeat, seconds = (1, 2) if options.quick else (options.repeat, options.duration)
    wrk, server = wrk_binary(), find_server_binary()
    if wrk is None or server is None:
        print("bench/workers.py needs wrk and a redis-server/valkey-server", file=sys.stderr)
        return 1
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start")
    runs: list[Run] = []
    with private_server(server) as redis:
        for turn in range(repeat):
            for shape, workers, threads in SHAPES[turn % 3 :] + SHAPES[: turn % 3]:
                with deployment(workers, threads, redis) as (port, pids):
                    for path in PATHS:
                        run = measure(wrk, port, pids, path, shape, seconds)
                        print(
                            f"  repeat {turn + 1}, {shape}, {path}: "
                            f"{run.rate:,.0f} req/s, p99 {run.p99 * 1000:.0f} ms",
                            flush=True,
                        )
                        runs.append(run)
    print(f"load average {os.getloadavg()[0]:.1f} at the end; medians of {repeat} runs:\n")
    print(report(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""HTTP benchmark: one sync and one async Django view under Telephonist, Daphne, uvicorn.

Run it with ``make bench-web`` (both web benchmarks) or::

    .venv/bin/python bench/http.py [--quick] [--repeat N] [--duration S] [--only NAME,...]
                                   [--profile]

Needs ``wrk`` (``scripts/peers/bench.sh`` installs it) and the ``bench`` extra
(``pip install -e '.[bench]'``: uvicorn, py-spy). The same Django project
(``bench/webapp``: ``startproject`` middleware, ``GET /sync`` and ``GET /async`` answering
13 bytes, no database) is served by each server in turn (see ``_web.py``):
``telephonist-run`` (all-in-one, in-memory layer, ``DjangoViewConsumer``),
``telephonist-split-1`` and ``telephonist-split-2`` (``telephonist serve`` + 1 or 2
``telephonist worker`` over a private Redis/Valkey server), ``daphne`` and ``uvicorn``
(Channels 4's ``ProtocolTypeRouter`` with Django's ASGI handler).

Each server is started fresh on a free loopback port, warmed up with 1 s of load on
each view, then loaded with ``wrk -t2 -c64 -d<duration>s --latency`` on each view.
Repeats (default 3, runs of 10 s) interleave the servers; the printed table has
medians of req/s, p50 and p99, the CPU the server processes used (percent of one
core, all processes added) and that CPU time per request (which the load of other
work on this shared machine moves much less than it moves req/s), and the errors wrk
saw; then the ratios the targets of issue 4 are stated in. Everything goes to
``bench/results/http-<timestamp>.json``.

``--profile`` adds, after the measurements, one more sync-view run per Telephonist
server with ``py-spy`` attached to each of its processes, and prints where their CPU
time goes (``_profile.py``); raw stacks go to ``bench/results/``.
``--only`` takes server names and/or figures (``sync``, ``async``). ``--quick`` is a
smoke run: one repeat of 2 s runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file shadows the standard library's ``http`` for anything imported from a script
# in bench/ (Python puts the script's directory first): look in bench/ last instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE] + [str(_HERE)]

# ruff: noqa: E402
import argparse
import time
from collections.abc import Sequence

from _procfs import cpu_seconds
from _profile import profile_run
from _report import Check, Results, fmt_count, fmt_ms, fmt_ratio, ratio, render_table, targets_table
from _web import SERVERS, RunningServer, ServerSpec, serving
from _webrun import (
    RESULTS_DIR,
    Options,
    flush,
    header,
    log,
    parse_options,
    rotated,
    run_main,
    show_ms,
)
from _wrk import WrkResult, run_wrk, wrk_binary, wrk_version

VIEWS = ("sync", "async")
CONNECTIONS = 64
THREADS = 2
RUN, SPLIT1, SPLIT2, DAPHNE, UVICORN = (s.name for s in SERVERS)


def _load(server: RunningServer, wrk: str, view: str, seconds: int) -> tuple[WrkResult, float]:
    """One wrk run; also the CPU the server's processes used, in percent of one core."""
    before = sum(cpu_seconds(pid) for pid in server.pids)
    started = time.monotonic()
    result = run_wrk(
        wrk, server.url(f"/{view}"), seconds=seconds, connections=CONNECTIONS, threads=THREADS
    )
    elapsed = time.monotonic() - started
    used = sum(cpu_seconds(pid) for pid in server.pids) - before
    return result, 100 * used / elapsed


def _turn(
    results: Results,
    server: RunningServer,
    wrk: str,
    views: Sequence[str],
    opts: Options[ServerSpec],
) -> None:
    for view in views:  # warm-up: imports, thread pools, Django's URL cache
        run_wrk(wrk, server.url(f"/{view}"), seconds=1, connections=CONNECTIONS, threads=THREADS)
    for view in views:
        key = Results.key("http", server.spec.name, view)
        r, cpu = _load(server, wrk, view, opts.duration)
        results.add(f"{key}/rate", r.rate, r.detail())
        results.add(f"{key}/p50", r.p50)
        results.add(f"{key}/p99", r.p99)
        results.add(f"{key}/cpu", cpu)
        # CPU per request: the server's work per request, which the load on this shared
        # machine moves much less than it moves req/s.
        results.add(f"{key}/cpu_us", cpu / 100 / r.rate * 1e6)
        results.add(f"{key}/errors", float(r.errors))
        log(
            f"  {key}: {r.rate:,.0f} req/s, p50 {fmt_ms(r.p50)} ms, p99 {fmt_ms(r.p99)} ms, "
            f"server CPU {cpu:.0f}%, errors {r.errors}"
        )


def _measure(
    results: Results,
    specs: list[ServerSpec],
    redis_url: str | None,
    opts: Options[ServerSpec],
    wrk: str,
) -> None:
    views = [v for v in VIEWS if v in opts.figures]
    broken: set[str] = set()
    for repeat in range(opts.repeat):
        log(f"repeat {repeat + 1}/{opts.repeat}")
        order = views if repeat % 2 == 0 else views[::-1]
        for spec in rotated(specs, repeat):
            if spec.name in broken:
                continue
            flush(redis_url if spec.uses_redis else None)
            try:
                with serving(spec, redis_url) as server:
                    _turn(results, server, wrk, order, opts)
            except Exception as exc:
                results.fail(Results.key("http", spec.name), exc)
                broken.add(spec.name)
                log(f"  {spec.name}: {results.errors[Results.key('http', spec.name)]}")
    if opts.extra["profile"]:
        for spec in specs:
            if spec.is_telephonist and spec.name not in broken:
                _profile(results, spec, redis_url, wrk, opts)


def _profile(
    results: Results, spec: ServerSpec, redis_url: str | None, wrk: str, opts: Options[ServerSpec]
) -> None:
    flush(redis_url if spec.uses_redis else None)
    seconds = min(opts.duration, 10)
    log(f"profile {spec.name} (sync view, {seconds} s, py-spy)")
    with serving(spec, redis_url) as server:
        run_wrk(wrk, server.url("/sync"), seconds=1, connections=CONNECTIONS, threads=THREADS)
        report = profile_run(
            server.pids,
            seconds,
            lambda: run_wrk(
                wrk, server.url("/sync"), seconds=seconds, connections=CONNECTIONS, threads=THREADS
            ),
            RESULTS_DIR / f"profile-http-{spec.name}-{time.strftime('%Y%m%d-%H%M%S')}",
        )
    results.meta.setdefault("profiles", {})[spec.name] = report


def _table(results: Results, specs: Sequence[ServerSpec], views: Sequence[str]) -> str:
    header_row = ["server"]
    for view in views:
        header_row += [f"{view} req/s", "p50 ms", "p99 ms", "CPU %", "µs/req"]
    header_row.append("errors")
    rows = []
    for spec in specs:
        if spec.name in results.missing:
            rows.append([spec.name, "not available", *[""] * (len(header_row) - 2)])
            continue
        if Results.key("http", spec.name) in results.errors:
            rows.append([spec.name, "error", *[""] * (len(header_row) - 2)])
            continue
        row = [spec.name]
        errors = 0.0
        for view in views:
            key = Results.key("http", spec.name, view)
            row += [
                results.cell(f"{key}/rate", fmt_count),
                results.cell(f"{key}/p50", fmt_ms),
                results.cell(f"{key}/p99", fmt_ms),
                results.cell(f"{key}/cpu", lambda v: f"{v:.0f}"),
                results.cell(f"{key}/cpu_us", lambda v: f"{v:,.0f}"),
            ]
            errors += sum(s or 0 for s in results.samples.get(f"{key}/errors", []))
        row.append(f"{errors:,.0f}")
        rows.append(row)
    return render_table(header_row, rows)


def _checks() -> list[Check]:
    rate = "http/{}/{}/rate"
    p99 = "http/{}/{}/p99"
    return [
        Check(
            "all-in-one vs Daphne, sync view req/s",
            ratio(rate.format(RUN, "sync"), rate.format(DAPHNE, "sync")),
            fmt_ratio(at_least=True),
            ">= 3x",
            lambda v: v >= 3,
        ),
        Check(
            "all-in-one vs Daphne, sync view p99",
            ratio(p99.format(RUN, "sync"), p99.format(DAPHNE, "sync")),
            fmt_ratio(at_least=False),
            "<= 1x",
            lambda v: v <= 1,
        ),
        Check(
            "all-in-one vs Daphne, sync view server CPU per request",
            ratio(f"http/{RUN}/sync/cpu_us", f"http/{DAPHNE}/sync/cpu_us"),
            fmt_ratio(at_least=False),
            "(info)",
            None,
        ),
        Check(
            "split, 1 worker vs Daphne, sync view req/s",
            ratio(rate.format(SPLIT1, "sync"), rate.format(DAPHNE, "sync")),
            fmt_ratio(at_least=True),
            ">= 2x",
            lambda v: v >= 2,
        ),
        Check(
            "split, 2 workers vs Daphne, sync view req/s",
            ratio(rate.format(SPLIT2, "sync"), rate.format(DAPHNE, "sync")),
            fmt_ratio(at_least=True),
            "(info)",
            None,
        ),
        Check(
            "all-in-one vs uvicorn, sync view req/s",
            ratio(rate.format(RUN, "sync"), rate.format(UVICORN, "sync")),
            fmt_ratio(at_least=True),
            "(info)",
            None,
        ),
        Check(
            "all-in-one vs Daphne, async view req/s",
            ratio(rate.format(RUN, "async"), rate.format(DAPHNE, "async")),
            fmt_ratio(at_least=True),
            "(info)",
            None,
        ),
        Check(
            "all-in-one vs uvicorn, async view req/s",
            ratio(rate.format(RUN, "async"), rate.format(UVICORN, "async")),
            fmt_ratio(at_least=True),
            "(info)",
            None,
        ),
        Check(
            "all-in-one sync view p50",
            lambda r: r.median(f"http/{RUN}/sync/p50"),
            show_ms,
            "(info)",
            None,
        ),
    ]


def _summary(results: Results, specs: Sequence[ServerSpec], opts: Options[ServerSpec]) -> str:
    views = [v for v in VIEWS if v in opts.figures]
    parts = [
        header(results, "Telephonist HTTP benchmark"),
        "",
        f"GET /sync and /async of one Django project, wrk -t{THREADS} -c{CONNECTIONS} "
        f"-d{opts.duration}s --latency; CPU % = server processes' CPU time over the run, "
        "in percent of one core; µs/req = server CPU time per request (all its processes)",
        _table(results, specs, views),
        "",
        targets_table(results, _checks()),
    ]
    for name, profile in results.meta.get("profiles", {}).items():
        parts += ["", f"Profile of {name} (sync view, py-spy):", profile]
    for name, reason in results.missing.items():
        parts.append(f"not available: {name}: {reason}")
    for key, error in results.errors.items():
        parts.append(f"error: {key}: {error}")
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--profile", action="store_true", help="profile the Telephonist servers with py-spy"
    )
    opts = parse_options(
        parser,
        argv,
        servers=SERVERS,
        default_servers=[s.name for s in SERVERS],
        figures=VIEWS,
        repeat=3,
        duration=10,
        quick_duration=2,
    )
    wrk = wrk_binary()
    if wrk is None:
        parser.error("wrk not found: bash scripts/install-peers.sh (or apt-get install wrk)")
    return run_main(
        "http",
        opts,
        {"wrk": wrk_version(wrk)},
        lambda results, specs, url: _measure(results, specs, url, opts, wrk),
        lambda results: _summary(results, opts.servers, opts),
    )


if __name__ == "__main__":
    sys.exit(main())

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

HTTP/2 (figure ``h2``): each server that speaks it also gets an ``ssl:`` port, and after
its HTTP/1.1 runs ``h2load -t2 -c16 -m4 -D<duration>`` (16 connections, 4 streams in
flight on each: the same 64 requests at once as wrk) loads each view over TLS with ALPN
``h2``, and, on Telephonist, over h2c by prior knowledge on the plain port. Daphne
serves HTTP/2 only over TLS (twisted.web's H2 support); uvicorn serves none. h2load
prints no percentiles, so those rows have req/s, CPU and errors. The HTTP/1.1 runs
are the same as without the figure (the TLS port is simply idle then).

``--profile`` adds, after the measurements, one more run of each view measured per
Telephonist server with ``py-spy`` attached to each of its processes, and prints where their CPU
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
from collections.abc import Callable, Sequence

from _h2load import H2Result, h2load_binary, h2load_version, run_h2load
from _procfs import cpu_seconds
from _profile import profile_run
from _report import (
    Check,
    Results,
    fmt_count,
    fmt_ms,
    median_check,
    ratio_checks,
    render_table,
    targets_table,
)
from _web import SERVERS, RunningServer, ServerSpec, serving
from _webrun import (
    RESULTS_DIR,
    Options,
    flush,
    log,
    parse_options,
    rotated,
    run_main,
    show_ms,
    summary,
)
from _wrk import WrkResult, run_wrk, wrk_binary, wrk_version

VIEWS = ("sync", "async")
H2 = "h2"  # the figure name of the HTTP/2 rows
CONNECTIONS = 64
THREADS = 2
H2_CLIENTS, H2_STREAMS = 16, 4
RUN = SERVERS[0].name


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


def _load_h2(server: RunningServer, h2load: str, url: str, seconds: int) -> tuple[H2Result, float]:
    before = sum(cpu_seconds(pid) for pid in server.pids)
    started = time.monotonic()
    result = run_h2load(
        h2load, url, seconds=seconds, clients=H2_CLIENTS, streams=H2_STREAMS, threads=THREADS
    )
    elapsed = time.monotonic() - started
    used = sum(cpu_seconds(pid) for pid in server.pids) - before
    return result, 100 * used / elapsed


def _h2_urls(server: RunningServer, view: str) -> list[tuple[str, str]]:
    """``(row, url)`` of each HTTP/2 run the server can take for ``view``."""
    urls = [("h2", server.https_url(f"/{view}"))] if server.tls_port else []
    if server.spec.is_telephonist:
        urls.append(("h2c", server.url(f"/{view}")))
    return urls


def _turn_h2(
    results: Results, server: RunningServer, h2load: str, views: Sequence[str], seconds: int
) -> None:
    for view in views:
        for row, url in _h2_urls(server, view):
            run_h2load(h2load, url, seconds=1, clients=H2_CLIENTS, streams=H2_STREAMS)  # warm-up
            r, cpu = _load_h2(server, h2load, url, seconds)
            key = Results.key("http", server.spec.name, f"{row}-{view}")
            results.add(f"{key}/rate", r.rate, r.detail())
            results.add(f"{key}/cpu", cpu)
            results.add(f"{key}/cpu_us", cpu / 100 / r.rate * 1e6 if r.rate else 0.0)
            results.add(f"{key}/errors", float(r.errors))
            log(f"  {key}: {r.rate:,.0f} req/s, server CPU {cpu:.0f}%, errors {r.errors}")


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
    h2load: str | None,
) -> None:
    views = [v for v in VIEWS if v in opts.figures]
    h2_views = views or list(VIEWS)  # --only h2: both views, over HTTP/2 only
    with_h2 = H2 in opts.figures and h2load is not None
    broken: set[str] = set()
    for repeat in range(opts.repeat):
        log(f"repeat {repeat + 1}/{opts.repeat}")
        order = views if repeat % 2 == 0 else views[::-1]
        for spec in rotated(specs, repeat):
            if spec.name in broken:
                continue
            flush(redis_url if spec.uses_redis else None)
            try:
                with serving(spec, redis_url, tls=with_h2) as server:
                    _turn(results, server, wrk, order, opts)
                    if with_h2 and h2load is not None:
                        _turn_h2(results, server, h2load, h2_views, opts.duration)
            except Exception as exc:
                results.fail(Results.key("http", spec.name), exc)
                broken.add(spec.name)
                log(f"  {spec.name}: {results.errors[Results.key('http', spec.name)]}")
    if opts.extra["profile"]:
        for spec in specs:
            if spec.is_telephonist and spec.name not in broken:
                for view in views:
                    _profile(results, spec, view, redis_url, wrk, opts)


def _profile(
    results: Results,
    spec: ServerSpec,
    view: str,
    redis_url: str | None,
    wrk: str,
    opts: Options[ServerSpec],
) -> None:
    flush(redis_url if spec.uses_redis else None)
    seconds = min(opts.duration, 10)
    log(f"profile {spec.name} ({view} view, {seconds} s, py-spy)")
    url = f"/{view}"
    with serving(spec, redis_url) as server:
        run_wrk(wrk, server.url(url), seconds=1, connections=CONNECTIONS, threads=THREADS)
        report = profile_run(
            server.pids,
            seconds,
            lambda: run_wrk(
                wrk, server.url(url), seconds=seconds, connections=CONNECTIONS, threads=THREADS
            ),
            RESULTS_DIR / f"profile-http-{spec.name}-{view}-{time.strftime('%Y%m%d-%H%M%S')}",
        )
    results.meta.setdefault("profiles", {})[f"{spec.name} ({view} view)"] = report


#: The cells of one measurement (a server, a view, a protocol): field, format.
_CPU = (("cpu", lambda v: f"{v:.0f}"), ("cpu_us", lambda v: f"{v:,.0f}"))
_WRK_CELLS = (("rate", fmt_count), ("p50", fmt_ms), ("p99", fmt_ms), *_CPU)
_H2_CELLS = (("rate", fmt_count), *_CPU)  # h2load prints no percentiles


def _cells(
    results: Results, key: str, fields: Sequence[tuple[str, Callable[[float], str]]]
) -> list[str]:
    return [results.cell(f"{key}/{field}", fmt) for field, fmt in fields]


def _errors(results: Results, keys: Sequence[str]) -> str:
    """The errors the load tool saw, over all of a server's measurements ``keys``."""
    return f"{sum(s or 0 for key in keys for s in results.samples.get(f'{key}/errors', [])):,.0f}"


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
        keys = [Results.key("http", spec.name, view) for view in views]
        row = [spec.name]
        for key in keys:
            row += _cells(results, key, _WRK_CELLS)
        rows.append([*row, _errors(results, keys)])
    return render_table(header_row, rows)


def _table_h2(results: Results, specs: Sequence[ServerSpec], views: Sequence[str]) -> str:
    header_row = ["server"]
    for view in views:
        for row in ("h2", "h2c"):
            header_row += [f"{row} {view} req/s", "CPU %", "µs/req"]
    header_row.append("errors")
    rows = []
    for spec in specs:
        if spec.kind == "uvicorn" or spec.name in results.missing:
            continue
        if Results.key("http", spec.name) in results.errors:
            rows.append([spec.name, "error", *[""] * (len(header_row) - 2)])
            continue
        keys = [
            Results.key("http", spec.name, f"{row}-{view}")
            for view in views
            for row in ("h2", "h2c")
        ]
        measured = [key for key in keys if f"{key}/rate" in results.samples]
        cells = [spec.name]
        for key in keys:
            # "-": not measured (no h2c on Daphne, say).
            cells += _cells(results, key, _H2_CELLS) if key in measured else ["-", "", ""]
        rows.append([*cells, _errors(results, measured)])
    return render_table(header_row, rows)


def _checks() -> list[Check]:
    # Issue 4: the sync view and HTTP/2; issue 16: async views at least 3x both servers,
    # p99 no worse.
    return [
        *ratio_checks("""
all-in-one vs Daphne, sync view over HTTP/2 (TLS) req/s
    http/telephonist-run/h2-sync / http/daphne/h2-sync  rate  >= 3x
all-in-one vs Daphne, sync view over HTTP/2 (TLS) server CPU per request
    http/telephonist-run/h2-sync / http/daphne/h2-sync  cpu_us  (info)
all-in-one h2c vs Daphne HTTP/2 (TLS), sync view req/s
    http/telephonist-run/h2c-sync / http/daphne/h2-sync  rate  (info)
split, 1 worker vs Daphne, sync view over HTTP/2 (TLS) req/s
    http/telephonist-split-1/h2-sync / http/daphne/h2-sync  rate  (info)
all-in-one vs Daphne, async view over HTTP/2 (TLS) req/s
    http/telephonist-run/h2-async / http/daphne/h2-async  rate  (info)
all-in-one vs Daphne, sync view req/s
    http/telephonist-run/sync / http/daphne/sync  rate  >= 3x
all-in-one vs Daphne, sync view p99
    http/telephonist-run/sync / http/daphne/sync  p99  <= 1x
all-in-one vs Daphne, sync view server CPU per request
    http/telephonist-run/sync / http/daphne/sync  cpu_us  (info)
split, 1 worker vs Daphne, sync view req/s
    http/telephonist-split-1/sync / http/daphne/sync  rate  >= 2x
split, 2 workers vs Daphne, sync view req/s
    http/telephonist-split-2/sync / http/daphne/sync  rate  (info)
all-in-one vs uvicorn, sync view req/s
    http/telephonist-run/sync / http/uvicorn/sync  rate  (info)
all-in-one vs Daphne, async view req/s
    http/telephonist-run/async / http/daphne/async  rate  >= 3x
all-in-one vs uvicorn, async view req/s
    http/telephonist-run/async / http/uvicorn/async  rate  >= 3x
all-in-one vs Daphne, async view p99
    http/telephonist-run/async / http/daphne/async  p99  <= 1x
all-in-one vs uvicorn, async view p99
    http/telephonist-run/async / http/uvicorn/async  p99  <= 1x
"""),
        median_check("all-in-one sync view p50", f"http/{RUN}/sync/p50", show_ms, "(info)"),
    ]


def _summary(results: Results, specs: Sequence[ServerSpec], opts: Options[ServerSpec]) -> str:
    views = [v for v in VIEWS if v in opts.figures]
    parts = [
        f"GET /sync and /async of one Django project, wrk -t{THREADS} -c{CONNECTIONS} "
        f"-d{opts.duration}s --latency; CPU % = server processes' CPU time over the run, "
        "in percent of one core; µs/req = server CPU time per request (all its processes)",
        _table(results, specs, views),
        "",
    ]
    if any(k.endswith("/rate") and "/h2" in k for k in results.samples):
        h2_views = views or list(VIEWS)
        parts += [
            f"HTTP/2: h2load -t{THREADS} -c{H2_CLIENTS} -m{H2_STREAMS} -D{opts.duration}; "
            "h2 = TLS with ALPN h2, h2c = cleartext by prior knowledge (Telephonist only; "
            "Daphne has no h2c, uvicorn no HTTP/2)",
            _table_h2(results, specs, h2_views),
            "",
        ]
    parts += [
        targets_table(results, _checks()),
    ]
    return summary(results, "Telephonist HTTP benchmark", parts, "Profile of {name}, py-spy:")


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
        figures=(*VIEWS, H2),
        repeat=3,
        duration=10,
        quick_duration=2,
    )
    wrk = wrk_binary()
    if wrk is None:
        parser.error("wrk not found: bash scripts/install-peers.sh (or apt-get install wrk)")
    h2load = h2load_binary()
    if H2 in opts.figures and h2load is None:
        log("h2load not found (bash scripts/install-peers.sh): no HTTP/2 rows")
    tools = {"wrk": wrk_version(wrk)}
    if h2load is not None:
        tools["h2load"] = h2load_version(h2load)
    return run_main(
        "http",
        opts,
        tools,
        lambda results, specs, url: _measure(results, specs, url, opts, wrk, h2load),
        lambda results: _summary(results, opts.servers, opts),
    )


if __name__ == "__main__":
    sys.exit(main())

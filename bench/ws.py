"""WebSocket benchmark: an async echo consumer under Telephonist, Daphne and uvicorn,
and the cost of 5,000 idle connections.

Run it with ``make bench-web`` (both web benchmarks) or::

    .venv/bin/python bench/ws.py [--quick] [--repeat N] [--duration S] [--only NAME,...]
                                 [--idle-connections N] [--idle-seconds S] [--profile]

Needs the ``bench`` extra (``pip install -e '.[bench]'``: uvicorn, py-spy). Servers as in
``bench/http.py`` (``_web.py``), each serving ``/ws/echo`` with an async consumer that
sends every frame back: Telephonist's ``AsyncWebsocketConsumer`` routed by
``bench/webapp/routing.py``, Channels 4's ``AsyncWebsocketConsumer`` in
``bench/webapp/asgi.py``.

Figures (``--only`` takes server names and/or these):

* ``echo``: 50 connections each sending a 32-byte text frame and waiting for it to
  come back, for 1 s of warm-up plus ``--duration`` seconds (default 10) measured;
  round trips/s and p50/p99 round-trip time (``_wsload.py``), the server's CPU (percent
  of one core, and CPU time per round trip) and this client process's CPU (to show
  the client is not what limits the rate). Servers: ``telephonist-run``,
  ``telephonist-split-1``, ``daphne``, ``uvicorn`` (``telephonist-split-2`` with ``--only``),
  and the same Channels project under Daphne with a Redis ``CHANNEL_LAYERS``:
  ``daphne-redis-core``, ``daphne-redis-pubsub`` (channels_redis) and
  ``daphne-telephonist-redis`` (Telephonist's Redis layer as a drop-in), compared in the
  ratio table for information. ``--only echo,daphne-redis-core,daphne-redis-pubsub,``
  ``daphne-telephonist-redis`` runs just those three.
* ``idle``: ``--idle-connections`` (default 5,000) connections opened in batches of 50,
  each having done one echo, then left alone: the server process's resident memory
  (``/proc/<pid>/status`` VmRSS) before and with them, per connection, and its CPU
  time (``/proc/<pid>/stat`` utime+stime, all threads) over ``--idle-seconds``
  (default 20) in percent of one core. Servers: ``telephonist-run``, ``daphne``,
  ``uvicorn``, each with its default WebSocket keepalive: a ping every 20 s. The window
  is one ping interval long so that it holds one ping per connection whatever time
  the opening took (a 10 s window would hold a share of them that depends on how
  fast each server accepted the 5,000). The open-file limit is raised to the hard
  limit first (the servers inherit it).
* ``idle-quiet``: the same with keepalive pings off on every server (``_web.py``):
  what idle connections cost apart from their pings (no polling: ideally nothing).

Repeats (default 3) interleave the servers, each started fresh for each figure; the
printed tables have medians and the ratios the targets of issue 4 are stated in.
Everything goes to ``bench/results/ws-<timestamp>.json``. ``--profile`` adds one more
echo run per Telephonist server with py-spy attached and prints where the time goes.
``--quick``: one repeat, 2 s runs, 500 idle connections for 2 s.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/http.py shadows the standard library's ``http`` for anything imported from a
# script in bench/ (websockets imports it): look in bench/ last instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE] + [str(_HERE)]

# ruff: noqa: E402
import argparse
import asyncio
import os
import time
from collections.abc import Callable, Sequence

from _procfs import cpu_seconds, rss_bytes
from _profile import profile_run
from _report import (
    Check,
    Results,
    fmt_count,
    fmt_ms,
    median_check,
    ratio_check,
    ratio_checks,
    render_table,
    targets_table,
)
from _web import SERVERS, RunningServer, ServerSpec, serving
from _webrun import RESULTS_DIR, Options, flush, log, parse_options, rotated, run_main, summary
from _wsload import echo_load, idle_connections, open_count, raise_nofile

FIGURES = ("echo", "idle", "idle-quiet")
ECHO_CONNECTIONS = 50
BATCH = 50
WARMUP = 1.0
SETTLE = 1.0  # seconds between the last connection opened and the idle window
RUN, SPLIT1, SPLIT2, DAPHNE, UVICORN = (s.name for s in SERVERS)
#: The same Channels project under Daphne with a Redis layer as its ``CHANNEL_LAYERS``
#: (each consumer listens on its ``channel_name`` there, as every Channels consumer
#: does): channels_redis core and pub/sub against Telephonist's Redis layer
#: (``bench/webapp/settings.py``: channels_redis with redis-py 8's socket timeout off).
CORE, PUBSUB, OURS = "daphne-redis-core", "daphne-redis-pubsub", "daphne-telephonist-redis"
LAYER_SERVERS = (
    ServerSpec(CORE, "daphne", "Daphne + channels_redis core", layer="redis-core"),
    ServerSpec(PUBSUB, "daphne", "Daphne + channels_redis pub/sub", layer="redis-pubsub"),
    ServerSpec(
        OURS,
        "daphne",
        "Daphne + Channels 4 on Telephonist's Redis layer",
        layer="telephonist-redis",
    ),
)
ECHO_SERVERS = (RUN, SPLIT1, DAPHNE, UVICORN, CORE, PUBSUB, OURS)
IDLE_SERVERS = (RUN, DAPHNE, UVICORN)
PATH = "/ws/echo"
MB = 1024 * 1024


def _echo(results: Results, server: RunningServer, opts: Options[ServerSpec]) -> None:
    key = Results.key("echo", server.spec.name)
    before = sum(cpu_seconds(pid) for pid in server.pids)
    client_before = cpu_seconds(os.getpid())
    started = time.monotonic()
    r = asyncio.run(
        echo_load(
            server.ws_url(PATH),
            connections=ECHO_CONNECTIONS,
            seconds=opts.duration,
            warmup=WARMUP,
            batch=BATCH,
        )
    )
    elapsed = time.monotonic() - started
    cpu = 100 * (sum(cpu_seconds(pid) for pid in server.pids) - before) / elapsed
    client = 100 * (cpu_seconds(os.getpid()) - client_before) / elapsed
    results.add(f"{key}/rate", r.rate, {"trips": r.trips})
    results.add(f"{key}/p50", r.p50)
    results.add(f"{key}/p99", r.p99)
    results.add(f"{key}/cpu", cpu)
    results.add(f"{key}/client_cpu", client)
    # CPU per round trip: how much server work one trip costs, which the load on this
    # shared machine moves much less than it moves the rate.
    results.add(f"{key}/cpu_us", cpu / 100 / r.rate * 1e6)
    log(
        f"  {key}: {r.rate:,.0f} round trips/s, p50 {fmt_ms(r.p50)} ms, "
        f"p99 {fmt_ms(r.p99)} ms, server CPU {cpu:.0f}%, client CPU {client:.0f}%"
    )


async def _idle_async(server: RunningServer, count: int, seconds: float) -> dict[str, float]:
    url = server.ws_url(PATH)
    async with idle_connections(url, 1, 1):
        pass  # one connection first: lazy imports and pools exist before the baseline
    await asyncio.sleep(0.5)
    rss_before = sum(rss_bytes(pid) for pid in server.pids)
    opening = time.monotonic()
    async with idle_connections(url, count, BATCH) as sockets:
        opened = time.monotonic() - opening
        await asyncio.sleep(SETTLE)
        cpu_start = sum(cpu_seconds(pid) for pid in server.pids)
        window_start = time.monotonic()
        await asyncio.sleep(seconds)
        cpu = sum(cpu_seconds(pid) for pid in server.pids) - cpu_start
        window = time.monotonic() - window_start
        rss_with = sum(rss_bytes(pid) for pid in server.pids)
        still_open = open_count(sockets)
    return {
        "rss_before": rss_before,
        "rss_with": rss_with,
        "per_connection": (rss_with - rss_before) / count,
        "cpu": 100 * cpu / window,
        "open": still_open,
        "open_seconds": opened,
    }


def _idle(results: Results, server: RunningServer, opts: Options[ServerSpec], figure: str) -> None:
    count, seconds = opts.extra["idle_connections"], opts.extra["idle_seconds"]
    r = asyncio.run(_idle_async(server, count, seconds))
    key = Results.key(figure, server.spec.name)
    for name, value in r.items():
        results.add(f"{key}/{name}", value)
    log(
        f"  {key}: {r['open']:,.0f}/{count:,} open, RSS {r['rss_before'] / MB:.1f} -> "
        f"{r['rss_with'] / MB:.1f} MB ({r['per_connection'] / 1024:.1f} KiB per connection), "
        f"CPU {r['cpu']:.2f}% over {seconds:g} s (opened in {r['open_seconds']:.1f} s)"
    )


def _measure(
    results: Results, specs: list[ServerSpec], redis_url: str | None, opts: Options[ServerSpec]
) -> None:
    plan: list[tuple[str, Sequence[str], Callable[[Results, RunningServer], None], bool]] = [
        ("echo", _echo_servers(opts), lambda r, srv: _echo(r, srv, opts), True),
        ("idle", IDLE_SERVERS, lambda r, srv: _idle(r, srv, opts, "idle"), True),
        ("idle-quiet", IDLE_SERVERS, lambda r, srv: _idle(r, srv, opts, "idle-quiet"), False),
    ]
    broken: set[str] = set()
    for repeat in range(opts.repeat):
        log(f"repeat {repeat + 1}/{opts.repeat}")
        for figure, names, measure, keepalive in plan:
            if figure not in opts.figures:
                continue
            for spec in rotated([s for s in specs if s.name in names], repeat):
                key = Results.key(figure, spec.name)
                if key in broken:
                    continue
                flush(redis_url if spec.uses_redis else None)
                try:
                    with serving(spec, redis_url, keepalive=keepalive) as server:
                        measure(results, server)
                except Exception as exc:
                    results.fail(key, exc)
                    broken.add(key)
                    log(f"  {key}: {results.errors[key]}")
    if opts.extra["profile"] and "echo" in opts.figures:
        for spec in specs:
            if spec.is_telephonist and Results.key("echo", spec.name) not in broken:
                _profile(results, spec, redis_url, opts)


def _echo_servers(opts: Options[ServerSpec]) -> tuple[str, ...]:
    """The default four, plus any other server named in ``--only``."""
    named = {s.name for s in opts.servers} if opts.extra["only"] else set()
    return (*ECHO_SERVERS, *sorted(named - set(ECHO_SERVERS)))


def _profile(
    results: Results, spec: ServerSpec, redis_url: str | None, opts: Options[ServerSpec]
) -> None:
    flush(redis_url if spec.uses_redis else None)
    seconds = min(opts.duration, 10)
    log(f"profile {spec.name} (echo, {seconds} s, py-spy)")
    with serving(spec, redis_url) as server:
        url = server.ws_url(PATH)
        report = profile_run(
            server.pids,
            seconds,
            lambda: asyncio.run(
                echo_load(url, connections=ECHO_CONNECTIONS, seconds=seconds - 0.5, warmup=0.5)
            ),
            RESULTS_DIR / f"profile-ws-{spec.name}-{time.strftime('%Y%m%d-%H%M%S')}",
        )
    results.meta.setdefault("profiles", {})[spec.name] = report


def _status(results: Results, key: str, spec: ServerSpec) -> str | None:
    if spec.name in results.missing:
        return "not available"
    if key in results.errors:
        return "error"
    return None


def _echo_table(results: Results, specs: Sequence[ServerSpec], names: Sequence[str]) -> str:
    header_row = [
        "server",
        "round trips/s",
        "p50 ms",
        "p99 ms",
        "CPU %",
        "CPU µs/trip",
        "client CPU %",
    ]
    rows = []
    for spec in specs:
        if spec.name not in names:
            continue
        key = Results.key("echo", spec.name)
        status = _status(results, key, spec)
        if status:
            rows.append([spec.name, status, "", "", "", "", ""])
            continue
        rows.append(
            [
                spec.name,
                results.cell(f"{key}/rate", fmt_count),
                results.cell(f"{key}/p50", fmt_ms),
                results.cell(f"{key}/p99", fmt_ms),
                results.cell(f"{key}/cpu", lambda v: f"{v:.0f}"),
                results.cell(f"{key}/cpu_us", lambda v: f"{v:.0f}"),
                results.cell(f"{key}/client_cpu", lambda v: f"{v:.0f}"),
            ]
        )
    return render_table(header_row, rows)


def _idle_table(results: Results, specs: Sequence[ServerSpec], count: int, figure: str) -> str:
    header_row = [
        "server",
        "still open",
        "RSS before MB",
        f"RSS with {count:,} MB",
        "KiB per connection",
        "CPU % of a core",
        "opened in s",
    ]
    rows = []
    for spec in specs:
        if spec.name not in IDLE_SERVERS:
            continue
        key = Results.key(figure, spec.name)
        status = _status(results, key, spec)
        if status:
            rows.append([spec.name, status, *[""] * 5])
            continue
        rows.append(
            [
                spec.name,
                results.cell(f"{key}/open", fmt_count),
                results.cell(f"{key}/rss_before", lambda v: f"{v / MB:.1f}"),
                results.cell(f"{key}/rss_with", lambda v: f"{v / MB:.1f}"),
                results.cell(f"{key}/per_connection", lambda v: f"{v / 1024:.1f}"),
                results.cell(f"{key}/cpu", lambda v: f"{v:.2f}"),
                results.cell(f"{key}/open_seconds", lambda v: f"{v:.1f}"),
            ]
        )
    return render_table(header_row, rows)


def _checks() -> list[Check]:
    idle = f"idle/{RUN}"
    return [
        *ratio_checks("""
all-in-one vs Daphne, echo round trips/s
    echo/telephonist-run / echo/daphne  rate  >= 1.5x
all-in-one vs Daphne, echo p99
    echo/telephonist-run / echo/daphne  p99  <= 1x
all-in-one vs Daphne, server CPU per round trip
    echo/telephonist-run / echo/daphne  cpu_us  (info)
split, 1 worker vs Daphne, echo round trips/s
    echo/telephonist-split-1 / echo/daphne  rate  (info)
all-in-one vs uvicorn, echo round trips/s
    echo/telephonist-run / echo/uvicorn  rate  >= 1.5x
"""),
        *_layer_checks(),
        median_check(
            "all-in-one, idle (pings every 20 s): CPU % of a core",
            f"{idle}/cpu",
            lambda v: f"{v:.2f}%",
            "< 2%",
        ),
        *ratio_checks("""
all-in-one vs Daphne, idle (pings every 20 s): CPU
    idle/telephonist-run / idle/daphne  cpu  (info)
all-in-one vs uvicorn, idle (pings every 20 s): CPU
    idle/telephonist-run / idle/uvicorn  cpu  < 1x
"""),
        median_check(
            "all-in-one, idle without pings: CPU % of a core",
            f"idle-quiet/{RUN}/cpu",
            lambda v: f"{v:.2f}%",
            "(info)",
        ),
        *ratio_checks("""
all-in-one vs Daphne, idle memory per connection
    idle/telephonist-run / idle/daphne  per_connection  < 1x
all-in-one vs uvicorn, idle memory per connection
    idle/telephonist-run / idle/uvicorn  per_connection  < 1x
"""),
        median_check(
            "all-in-one, idle connections still open at the end",
            f"{idle}/open",
            fmt_count,
            "(info)",
        ),
    ]


def _layer_checks() -> list[Check]:
    """The Channels project's echo under Daphne on Telephonist's Redis layer against the
    same project on channels_redis core and pub/sub: no target in issue 16, for
    information."""
    figures = (("round trips/s", "rate", True), ("p50", "p50", False), ("p99", "p99", False))
    figures += (("server CPU per round trip", "cpu_us", False),)
    return [
        ratio_check(
            f"Channels echo under Daphne, Telephonist's Redis layer vs channels_redis {name}: "
            + what,
            f"echo/{OURS}/{field}",
            f"echo/{theirs}/{field}",
            higher=higher,
        )
        for theirs, name in ((CORE, "core"), (PUBSUB, "pub/sub"))
        for what, field, higher in figures
    ]


def _summary(results: Results, opts: Options[ServerSpec]) -> str:
    count, seconds = opts.extra["idle_connections"], opts.extra["idle_seconds"]
    parts: list[str] = []
    if "echo" in opts.figures:
        parts += [
            f"Echo: {ECHO_CONNECTIONS} connections, 32-byte text frames, {WARMUP:g} s warm-up + "
            f"{opts.duration} s measured; CPU % = server processes, percent of one core; CPU "
            "µs/trip = server CPU time per round trip; client CPU % = this process",
            _echo_table(results, opts.servers, _echo_servers(opts)),
            "",
        ]
    for figure, pings in (("idle", "default keepalive pings"), ("idle-quiet", "no pings")):
        if figure in opts.figures:
            parts += [
                f"Idle ({figure}): {count:,} connections (batches of {BATCH}, one echo each), "
                f"then {seconds:g} s untouched, {pings}; memory and CPU of the server process",
                _idle_table(results, opts.servers, count, figure),
                "",
            ]
    parts.append(targets_table(results, _checks()))
    title = "Telephonist WebSocket benchmark"
    return summary(results, title, parts, "Profile of {name} (echo, py-spy):")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--idle-connections", type=int, help="idle figure (default 5,000)")
    parser.add_argument("--idle-seconds", type=float, help="idle window (default 20)")
    parser.add_argument(
        "--profile", action="store_true", help="profile the Telephonist servers with py-spy"
    )
    opts = parse_options(
        parser,
        argv,
        servers=(*SERVERS, *LAYER_SERVERS),
        default_servers=sorted(set(ECHO_SERVERS) | set(IDLE_SERVERS)),
        figures=FIGURES,
        repeat=3,
        duration=10,
        quick_duration=2,
    )
    extra = opts.extra
    extra["idle_connections"] = extra["idle_connections"] or (500 if opts.quick else 5_000)
    extra["idle_seconds"] = extra["idle_seconds"] or (2.0 if opts.quick else 20.0)
    if opts.figures & {"idle", "idle-quiet"}:
        limit = raise_nofile(extra["idle_connections"] + 1_000)
        if limit < extra["idle_connections"] + 100:
            parser.error(f"open-file limit {limit} is too low for the idle figure")
    return run_main(
        "ws",
        opts,
        {},
        lambda results, specs, url: _measure(results, specs, url, opts),
        lambda results: _summary(results, opts),
    )


if __name__ == "__main__":
    sys.exit(main())

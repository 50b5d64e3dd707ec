"""Broadcast benchmark: one message to a group of N open WebSockets, until the last has it.

Run it with ``make bench-broadcast`` or::

    .venv/bin/python bench/broadcast.py [--quick] [--repeat N] [--only NAME,...]
                                        [--members N,N] [--broadcasts N]

Needs the ``bench`` extra (``pip install -e '.[bench]'``: uvicorn). Every server serves
``/ws/room`` from the benchmark project (``bench/webapp``): each socket joins one group
on connect; a text frame from any socket is sent to the group. Telephonist's consumer
(``routing.py``) sends ``websocket.send`` to the group of reply channels; Channels 4's
(``asgi.py``) is the tutorial's room: ``group_send`` to the consumers, whose handler
sends the frame.

Servers: ``telephonist-run`` (all-in-one, in-memory layer), ``telephonist-split-1`` and
``-2`` (one interface server and one or two workers over a private Redis/Valkey),
``telephonist-channels`` (Channels 4's application, ``asgi.py``, hosted in the worker
of ``manage.py runserver``, in-memory layer) and ``telephonist-channels-split`` and
``-split-2`` (the same with ``runinterfaces`` and one or two ``runworker`` processes, the
project's ``CHANNEL_LAYERS`` naming channels_redis core, which Telephonist's Redis layer
serves), Daphne + Channels 4 on Channels' in-memory layer, on channels_redis core and on its
pub/sub layer, uvicorn + Channels 4 on the in-memory layer and on channels_redis
pub/sub.

For each size in ``--members`` (default 1,000 and 5,000) the clients (raw asyncio
protocols, ``_wsraw.py``, so the client's own cost stays small) open that many sockets in
batches of 50; then one of them sends a frame ``--broadcasts`` times (default 12, the
first two not counted), each time waiting until every member got it: the time from the
send to the last arrival, p50 and p99 over the broadcasts, and the server processes'
CPU time per broadcast. Repeats (default 3) interleave the servers, each started fresh;
ratios are of medians from the same run. Results go to
``bench/results/broadcast-<timestamp>.json``. ``--quick``: 1 repeat, 200 members, 5
broadcasts.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/http.py shadows the standard library's ``http`` for anything imported from a
# script in bench/: look in bench/ last instead (as bench/ws.py does).
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE] + [str(_HERE)]

# ruff: noqa: E402
import argparse
import asyncio
import time
from collections.abc import Callable

from _procfs import cpu_seconds
from _report import Check, Results, fmt_ratio, ratio, render_table, targets_table
from _web import RunningServer, ServerSpec, serving
from _webrun import Options, flush, log, parse_options, rotated, run_main, show_ms, summary
from _wsload import raise_nofile
from _wsraw import Board, members

PATH = "/ws/room"
DISCARD = 2  # first broadcasts warm caches and code paths; not counted
TIMEOUT = 60.0  # seconds for one broadcast to reach everyone: then the server failed

SERVERS = (
    ServerSpec("telephonist-run", "run", "Telephonist all-in-one, in-memory layer"),
    ServerSpec("telephonist-split-1", "split", "telephonist serve + 1 worker, Redis", 1),
    ServerSpec("telephonist-split-2", "split", "telephonist serve + 2 workers, Redis", 2),
    ServerSpec(
        "telephonist-channels", "channels-run", "Channels 4 app hosted by manage.py runserver"
    ),
    ServerSpec(
        "telephonist-channels-split",
        "channels-split",
        "Channels 4 app, runinterfaces + 1 runworker, channels_redis settings",
        1,
        layer="redis-core",
    ),
    ServerSpec(
        "telephonist-channels-split-2",
        "channels-split",
        "Channels 4 app, runinterfaces + 2 runworkers, channels_redis settings",
        2,
        layer="redis-core",
    ),
    ServerSpec("daphne-memory", "daphne", "Daphne + Channels 4, in-memory layer"),
    ServerSpec("daphne-redis-core", "daphne", "Daphne + channels_redis core", layer="redis-core"),
    ServerSpec(
        "daphne-redis-pubsub", "daphne", "Daphne + channels_redis pub/sub", layer="redis-pubsub"
    ),
    ServerSpec(
        "daphne-telephonist-redis",
        "daphne",
        "Daphne + Channels 4 on Telephonist's Redis layer",
        layer="telephonist-redis",
    ),
    ServerSpec("uvicorn-memory", "uvicorn", "uvicorn + Channels 4, in-memory layer"),
    ServerSpec(
        "uvicorn-redis-pubsub", "uvicorn", "uvicorn + channels_redis pub/sub", layer="redis-pubsub"
    ),
)
CHANNELS = tuple(s.name for s in SERVERS if not s.is_telephonist)
#: The anchor of the hosted Channels application (issue 18): the same project under
#: Daphne on channels_redis, whichever of its two layers was faster in this run.
DAPHNE_REDIS = ("daphne-redis-core", "daphne-redis-pubsub")
HOSTED = ("telephonist-channels", "telephonist-channels-split", "telephonist-channels-split-2")


async def _broadcasts(server: RunningServer, size: int, count: int) -> dict[str, float]:
    board = Board()
    async with members(server.port, PATH, size, board) as sockets:
        sender = sockets[0]
        times: list[float] = []
        cpu_before = sum(cpu_seconds(pid) for pid in server.pids)
        for n in range(count):
            payload = f"broadcast {n} to {size}".encode()
            board.expect(payload, size)
            sent = time.perf_counter()
            sender.send_text(payload)
            await asyncio.wait_for(board.done.wait(), TIMEOUT)
            if n >= DISCARD:
                times.append(board.last - sent)
        cpu = sum(cpu_seconds(pid) for pid in server.pids) - cpu_before
        still_open = sum(1 for m in sockets if not m.closed)
    times.sort()
    return {
        "p50": times[len(times) // 2],
        "p99": times[min(len(times) - 1, int(len(times) * 0.99))],
        "cpu_ms": 1000 * cpu / count,
        "duplicates": float(board.duplicates),
        "open": float(still_open),
    }


def _measure(
    results: Results, specs: list[ServerSpec], redis_url: str | None, opts: Options[ServerSpec]
) -> None:
    sizes, count = opts.extra["sizes"], opts.extra["broadcasts"]
    broken: set[str] = set()
    for repeat in range(opts.repeat):
        log(f"repeat {repeat + 1}/{opts.repeat}")
        for spec in rotated(specs, repeat):
            if spec.name in broken:
                continue
            flush(redis_url if spec.uses_redis else None)
            try:
                with serving(spec, redis_url) as server:
                    for size in sizes:
                        _one_size(results, server, size, count)
            except Exception as exc:
                key = Results.key("broadcast", spec.name)
                results.fail(key, exc)
                broken.add(spec.name)
                log(f"  {key}: {results.errors[key]}")


def _one_size(results: Results, server: RunningServer, size: int, count: int) -> None:
    """One group size: a failure (a server that drops sockets, a broadcast that never
    completes) is recorded for this size only, and the next size still runs."""
    key = Results.key("broadcast", server.spec.name, str(size))
    if results.failed(key):
        return
    try:
        r = asyncio.run(_broadcasts(server, size, count))
    except Exception as exc:
        results.fail(
            key, exc if str(exc) else TimeoutError(f"no complete broadcast in {TIMEOUT:g} s")
        )
        log(f"  {key}: {results.errors[key]}")
        return
    for name, value in r.items():
        results.add(f"{key}/{name}", value)
    log(
        f"  {key}: p50 {show_ms(r['p50'])}, p99 {show_ms(r['p99'])}, "
        f"server CPU {r['cpu_ms']:.1f} ms per broadcast"
    )


def _table(results: Results, specs: tuple[ServerSpec, ...], sizes: list[int]) -> str:
    header_row = ["server"]
    for size in sizes:
        header_row += [f"{size:,} p50 ms", f"{size:,} p99 ms", f"{size:,} CPU ms"]
    rows = []
    for spec in specs:
        if spec.name in results.missing:
            rows.append([spec.name, "not available", *([""] * (3 * len(sizes) - 1))])
            continue
        row = [spec.name]
        for size in sizes:
            key = Results.key("broadcast", spec.name, str(size))
            row += [
                results.cell(f"{key}/p50", lambda v: f"{v * 1000:.1f}"),
                results.cell(f"{key}/p99", lambda v: f"{v * 1000:.1f}"),
                results.cell(f"{key}/cpu_ms", lambda v: f"{v:.1f}"),
            ]
        rows.append(row)
    return render_table(header_row, rows)


def _fastest_channels(size: int) -> Callable[[Results], float | None]:
    def value(results: Results) -> float | None:
        p50s = [results.median(f"broadcast/{n}/{size}/p50") for n in CHANNELS]
        known = [v for v in p50s if v is not None]
        mine = results.median(f"broadcast/telephonist-run/{size}/p50")
        return min(known) / mine if known and mine else None

    return value


def _vs_daphne_redis(name: str, size: int) -> Callable[[Results], float | None]:
    def value(results: Results) -> float | None:
        p50s = [results.median(f"broadcast/{n}/{size}/p50") for n in DAPHNE_REDIS]
        known = [v for v in p50s if v is not None]
        mine = results.median(f"broadcast/{name}/{size}/p50")
        return min(known) / mine if known and mine else None

    return value


def _checks(sizes: list[int]) -> list[Check]:
    checks = []
    for size in sizes:
        checks += [
            Check(
                f"{name} vs faster Daphne + channels_redis, {size:,} (speed-up)",
                _vs_daphne_redis(name, size),
                fmt_ratio(at_least=True),
                ">= 2x",
                lambda v: v >= 2,
            )
            for name in HOSTED
        ]
    for size in sizes:
        checks += [
            Check(
                f"all-in-one vs fastest Channels 4 set-up, {size:,} members (speed-up)",
                _fastest_channels(size),
                fmt_ratio(at_least=True),
                ">= 3x",
                lambda v: v >= 3,
            ),
            Check(
                f"split (1 worker) vs Daphne + channels_redis pub/sub, {size:,} (speed-up)",
                ratio(
                    f"broadcast/daphne-redis-pubsub/{size}/p50",
                    f"broadcast/telephonist-split-1/{size}/p50",
                ),
                fmt_ratio(at_least=True),
                ">= 2x",
                lambda v: v >= 2,
            ),
            Check(
                f"Daphne + Channels project: Telephonist's Redis layer vs channels_redis "
                f"pub/sub, {size:,} (speed-up)",
                ratio(
                    f"broadcast/daphne-redis-pubsub/{size}/p50",
                    f"broadcast/daphne-telephonist-redis/{size}/p50",
                ),
                fmt_ratio(at_least=True),
                "(info)",
                None,
            ),
        ]
    return checks


def _summary(results: Results, opts: Options[ServerSpec]) -> str:
    sizes = opts.extra["sizes"]
    parts = [
        f"Time from one frame sent to the last of N members having it ({opts.extra['broadcasts']}"
        f" broadcasts, the first {DISCARD} not counted); CPU ms = server processes' CPU time "
        "per broadcast",
        _table(results, opts.servers, sizes),
        "",
        targets_table(results, _checks(sizes)),
    ]
    return summary(results, "Telephonist broadcast benchmark", parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--members", help="group sizes, comma-separated (default 1000,5000)")
    parser.add_argument("--broadcasts", type=int, help="broadcasts per size (default 12)")
    opts = parse_options(
        parser,
        argv,
        servers=SERVERS,
        default_servers=[s.name for s in SERVERS],
        figures=("broadcast",),
        repeat=3,
        duration=None,
        quick_duration=None,
    )
    extra = opts.extra
    default = "200" if opts.quick else "1000,5000"
    extra["sizes"] = [int(n) for n in (extra["members"] or default).split(",")]
    extra["broadcasts"] = extra["broadcasts"] or (5 if opts.quick else 12)
    if extra["broadcasts"] <= DISCARD:
        parser.error(f"--broadcasts must be more than {DISCARD}")
    limit = raise_nofile(max(extra["sizes"]) + 1_000)
    if limit < max(extra["sizes"]) + 100:
        parser.error(f"open-file limit {limit} is too low for {max(extra['sizes'])} members")
    return run_main(
        "broadcast",
        opts,
        {},
        lambda results, specs, url: _measure(results, specs, url, opts),
        lambda results: _summary(results, opts),
        packages=("django", "channels", "channels_redis", "daphne", "uvicorn", "twisted"),
    )


if __name__ == "__main__":
    sys.exit(main())

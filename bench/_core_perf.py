"""Focused layer micro-benchmarks for work on ``telephonist/core`` (not part of layer.py).

``bench/layer.py`` runs every layer beside its anchors; this runs only Telephonist's,
figure by figure, so a change to the core can be measured quickly and A/B'd against an
older copy of the package on the same server, interleaved::

    .venv/bin/python bench/_core_perf.py [--layer redis|memory] [--figure NAME,...]
        [--repeat N] [--ab OTHER_SRC] [--url redis://...]

``--ab DIR`` alternates runs in subprocesses: one with ``DIR`` first on ``sys.path``
(say a ``git archive`` of the commit before a change), one with this checkout, ``--repeat``
times each, and prints both medians side by side. ``--layer`` may also name an anchor
(``channels-memory``, ``channels_redis-pubsub``, ``channels_redis-core``), to compare
instruction counts. ``--once`` runs each figure once
without timing output, for ``valgrind --tool=callgrind`` (which counts instructions, so
the count does not move with the load on a shared machine); start a server first and
pass ``--url``.

Figures (the same code as layer.py's, from ``_flow`` and ``_fanout``): ``rtt`` (p50 of
2,000 round trips, ms), ``recv`` and ``many`` (msgs/s, 16 senders, one receiver with
``receive`` / ``receive_many(100)``), ``fan`` (ms until 1,000 members received) and
``fancpu`` (this process's CPU ms over the same span), ``listen`` and ``listencpu`` (the
same to 1,000 listeners), ``script`` (Redis layer only: the server's own time for the
group-send script to 1,000 members of one process, µs, from ``SLOWLOG``). The CPU and
script figures move little with the load on a shared machine; the wall-clock ones do.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
# bench/email.py and bench/http.py shadow the standard library's ``email`` and ``http``
# (see layer.py): look in bench/ last.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE] + [str(HERE)]
FIGURES = ("rtt", "recv", "many", "fan", "fancpu", "listen", "listencpu", "script")
ANCHORS = ("channels-memory", "channels_redis-pubsub", "channels_redis-core")


def _make(layer: str, url: str, prefix: str) -> Any:
    if layer in ANCHORS:
        from _layers import all_layers, configure_django

        configure_django()
        [spec] = [spec for spec in all_layers() if spec.name == layer]
        assert spec.make is not None
        return spec.make(url, prefix)
    if layer == "memory":
        from telephonist.core.memory import InMemoryChannelLayer

        return InMemoryChannelLayer()
    from telephonist.core.redis import RedisChannelLayer

    return RedisChannelLayer(hosts=[url], prefix=prefix)


async def _measure(layer_name: str, url: str, figure: str, n: int, index: int) -> float:
    from _fanout import fan_out, fan_out_listeners
    from _flow import round_trip, throughput

    # As layer.py's steps: without the garbage of the figure before, a full collection
    # (20-60 ms with 10,000 members set up) lands inside a measurement or not by chance.
    gc.collect()
    layer = _make(layer_name, url, f"perf{os.getpid()}x{index}")
    close = getattr(layer, "close", None) or getattr(layer, "close_pools", None)
    try:
        if figure == "rtt":
            samples = sorted(await round_trip(layer, n or 2000, discard=50))
            return samples[len(samples) // 2] * 1000
        if figure in ("recv", "many"):
            batch = figure == "many"
            default = 20_000 if batch else 6_000
            r = await throughput(layer, n or default, senders=16, window=64, batch=batch)
            return r.rate
        if figure in ("fan", "fancpu"):
            run = await fan_out(layer, n or 1000, cap=10.0, start_limit=10.0)
            value = run.seconds if figure == "fan" else run.cpu
            return float("nan") if value is None else value * 1000
        if figure in ("listen", "listencpu"):
            run = await fan_out_listeners(layer, n or 1000, cap=10.0)
            value = run.seconds if figure == "listen" else run.cpu
            return float("nan") if value is None else value * 1000
        if figure == "script":
            return await _script_time(layer, url, n or 1000)
        raise ValueError(figure)
    finally:
        await layer.flush()
        if close is not None:
            await close()


async def _script_time(layer: Any, url: str, members: int) -> float:
    """Server time (µs, ``SLOWLOG``) of one group send to ``members`` channels of this
    process: the fan-out script alone, without the round trip or the receiving side."""
    import redis
    from _fanout import _join

    client = redis.Redis.from_url(url)
    try:
        await _join(layer, "perf-script", members)
        client.config_set("slowlog-log-slower-than", 0)
        client.slowlog_reset()
        await layer.group_send("perf-script", {"type": "perf.script", "text": "to everyone"})
        entries = client.slowlog_get(128)
        client.config_set("slowlog-log-slower-than", 10_000)
    finally:
        client.close()
    calls = [e["duration"] for e in entries if e["command"].startswith(b"EVALSHA")]
    return float(max(calls))  # the fan-out script is the one long call


def _prefer(src: str) -> None:
    """Import ``telephonist`` from ``src``: an editable install's import hook answers
    before ``sys.path`` is searched, so PYTHONPATH alone does not pick the other tree."""
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f)]
    sys.path.insert(0, src)


async def _child(args: argparse.Namespace) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for i in range(args.repeat):
        for figure in args.figures:
            value = await _measure(args.layer, args.url, figure, args.n, i)
            out.setdefault(figure, []).append(value)
    return out


def _with_server(args: argparse.Namespace) -> Any:
    import contextlib

    if args.url or "memory" in args.layer:
        return contextlib.nullcontext(None)
    from _servers import find_server_binary, private_server

    binary = find_server_binary()
    assert binary, "no valkey-server/redis-server"
    return private_server(binary)


def _run_child(src: Path | None, args: argparse.Namespace, url: str) -> dict[str, list[float]]:
    env = dict(os.environ)
    paths = ([str(src)] if src else [str(HERE.parent)]) + [str(HERE)]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["CORE_PERF_SRC"] = str(src) if src else ""
    cmd = [sys.executable, str(HERE / "_core_perf.py"), "--child", "--layer", args.layer]
    cmd += ["--figure", ",".join(args.figures), "--repeat", "1", "--url", url, "-n", str(args.n)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    result: dict[str, list[float]] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--layer", default="redis", choices=("redis", "memory", *ANCHORS))
    parser.add_argument("--figure", default=",".join(FIGURES))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("-n", type=int, default=0, help="messages / trips / members")
    parser.add_argument("--url", default="")
    parser.add_argument("--ab", type=Path, default=None, help="other source tree to compare")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--once", action="store_true", help="one run each, no output")
    args = parser.parse_args()
    args.figures = [f for f in args.figure.split(",") if f]
    if args.child or args.once:
        if os.environ.get("CORE_PERF_SRC"):
            _prefer(os.environ["CORE_PERF_SRC"])
        if args.once:
            args.repeat = 1
        result = asyncio.run(_child(args))
        if args.child:
            print(json.dumps(result))
        return
    with _with_server(args) as server:
        url = args.url or (server.url if server else "")
        sides: dict[str, Path | None] = {"this": None}
        if args.ab:
            sides = {"other": args.ab.resolve(), "this": None}
        results: dict[str, dict[str, list[float]]] = {side: {} for side in sides}
        for _ in range(args.repeat):
            for side, src in sides.items():
                for figure, values in _run_child(src, args, url).items():
                    results[side].setdefault(figure, []).extend(values)
    load = os.getloadavg()[0]
    print(f"{args.layer}, medians of {args.repeat} interleaved runs (load {load:.1f} at end)")
    for figure in args.figures:
        row = [f"{figure:5}"]
        for side in sides:
            values = results[side][figure]
            spread = f"{min(values):,.2f}-{max(values):,.2f}"
            row.append(f"{side}: {statistics.median(values):>10,.2f}  ({spread})")
        print("  ".join(row))


if __name__ == "__main__":
    main()

"""Channel-layer benchmark: Telephonist's layers beside the ones users would otherwise pick.

Run it with ``make bench`` or::

    .venv/bin/python bench/layer.py [--quick] [--repeat N] [--only NAME[,NAME]]

It starts a private Valkey/Redis server on a free loopback port (the dev extra's
``valkey-server``, else one on PATH), measures, prints a table of medians and the ratios
the project's targets are stated in, writes everything to
``bench/results/layer-<timestamp>.json``, and stops the server, also on Ctrl-C.

Layers: Telephonist's in-memory and Redis layers (the Redis one only once
``telephonist.core.redis`` is importable; "not available" until then),
``channels_redis`` core and pub/sub, Channels' in-memory layer; and, as the ceiling,
``valkey-benchmark``/``redis-benchmark`` against the same server.

Figures, each repeated ``--repeat`` times with the layers interleaved, medians printed:

1. send+receive msgs/s on one channel: 16 sender tasks, one receiver, at most 64
   messages in flight; for Telephonist's layers also with ``receive_many``; and for every
   layer on the receiver's own ``!`` channel (``new_channel()``) with plain
   ``receive()``, as a Channels 4 consumer reads its ``channel_name``. The message
   count per run comes from a short probe so one run takes about 2.5 s.
2. round trip p50/p99: A sends on a normal channel, B echoes to A's reply channel (from
   ``new_channel()``), A waits; 2,000 sequential trips.
3. ``group_send`` to 1 / 100 / 1,000 / 10,000 process-specific members, each with its
   own waiting receiver: time from the call to the last receive (capped, "> Xs").
4. Redis commands the server runs during 5 s while one receive is pending (once: a count).

``--only`` takes layer names (telephonist-memory, telephonist-redis, channels_redis-core,
channels_redis-pubsub, channels-memory) and/or figure names (ceiling, throughput,
round_trip, fan_out, idle). ``--quick`` is a smoke run: one repeat, short runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

# bench/email.py and bench/http.py shadow the standard library's ``email`` and ``http``
# for anything imported from a script in bench/ (pydantic imports ``email`` through
# importlib.metadata): look in bench/ last instead.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE] + [str(_HERE)]

# ruff: noqa: E402
import argparse
import asyncio
import contextlib
import dataclasses
import os
import platform
import signal
import time
from types import FrameType
from typing import Any

from _ceiling import tool_version
from _layers import LayerSpec, all_layers, configure_django
from _report import Results, telephonist_source
from _run import FIGURES, Config, Target, run
from _servers import find_benchmark_binary, find_server_binary, private_server
from _summary import summary

RESULTS_DIR = Path(__file__).resolve().parent / "results"

QUICK = {
    "repeat": 1,
    "run_seconds": 0.3,
    "probe_messages": 300,
    "min_messages": 300,
    "rtt_count": 200,
    "rtt_discard": 10,
    "fan_sizes": (1, 100, 1_000),
    "fan_cap": 5.0,
    "idle_seconds": 1.0,
    "ceiling_requests": (20_000, 200_000),
    "timeout": 60.0,
}


def _parse(argv: list[str] | None) -> tuple[Config, set[str]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 repeat, short runs")
    parser.add_argument("--repeat", type=int, help="repeats per figure (default 5, quick 1)")
    parser.add_argument("--only", default="", help="comma-separated layer and/or figure names")
    args = parser.parse_args(argv)
    names = {n.strip() for n in args.only.split(",") if n.strip()}
    layer_names = {spec.name for spec in all_layers()}
    unknown = names - layer_names - set(FIGURES)
    if unknown:
        parser.error(f"unknown --only name(s): {', '.join(sorted(unknown))}")
    figures = frozenset(names & set(FIGURES) or FIGURES)
    options: dict[str, Any] = dict(QUICK) if args.quick else {}
    if args.repeat is not None:
        if args.repeat < 1:
            parser.error("--repeat must be at least 1")
        options["repeat"] = args.repeat
    config = dataclasses.replace(Config(figures=figures), **options)
    return config, names & layer_names or layer_names


def _select(results: Results, wanted: set[str], have_server: bool) -> list[LayerSpec]:
    """Layers to print (in order); those that cannot run are recorded as missing."""
    chosen = [spec for spec in all_layers() if spec.name in wanted]
    for spec in chosen:
        if spec.make is None:
            results.missing[spec.name] = spec.missing
        elif spec.uses_redis and not have_server:
            results.missing[spec.name] = "no valkey-server/redis-server binary"
    return chosen


def _meta(config: Config, server: str) -> dict[str, object]:
    return {
        "telephonist": telephonist_source(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "load_at_start": os.getloadavg()[0],
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "server": server,
        "repeat": config.repeat,
        "idle_seconds": config.idle_seconds,
        "config": dataclasses.asdict(config),
    }


def _raise_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # unwinds like Ctrl-C: servers stopped in ``finally``


def main(argv: list[str] | None = None) -> int:
    config, wanted = _parse(argv)
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    configure_django()
    binary = find_server_binary()
    bench_tool = find_benchmark_binary() if "ceiling" in config.figures else None
    results = Results()
    specs = _select(results, wanted, binary is not None)
    runnable = [s for s in specs if s.name not in results.missing]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    with contextlib.ExitStack() as stack:
        needs_server = binary is not None and (
            any(s.uses_redis for s in runnable) or bench_tool is not None
        )
        server = stack.enter_context(private_server(binary)) if needs_server and binary else None
        version = tool_version(binary) if binary else "no Redis server"
        results.meta = _meta(config, version)
        tool = tool_version(bench_tool) if bench_tool and server else ""
        results.meta["ceiling_tool"] = tool
        where = Target(
            url=server.url if server else "",
            port=server.port if server else None,
            benchmark=bench_tool if server else None,
        )
        asyncio.run(run(results, runnable, where, config))
        results.meta["load_at_end"] = os.getloadavg()[0]
    print(summary(results, specs, config, tool))
    path = results.write_json(RESULTS_DIR, stamp)
    print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted; private servers stopped", file=sys.stderr)
        sys.exit(130)

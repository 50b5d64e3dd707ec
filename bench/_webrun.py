"""What ``bench/http.py`` and ``bench/ws.py`` share: options, the private Redis server,
the order of runs, metadata, and the way a run ends (JSON written, summary printed).

Order: repeats are the outer loop and servers the inner one, rotated each repeat, so a
burst of load from a neighbour on this shared machine lands on different servers in
different repeats and the medians shrug it off. Each server is started fresh for its
turn and stopped after it. A server that fails to start or breaks is recorded as an
error and skipped in later repeats; the others are still measured and printed.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import platform
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, Generic, Protocol, TypeVar

from _report import Results, fmt_ms, telephonist_source
from _servers import find_server_binary, private_server

__all__ = [
    "RESULTS_DIR",
    "Options",
    "Spec",
    "ensure_servers_available",
    "flush",
    "header",
    "log",
    "parse_options",
    "redis_for",
    "rotated",
    "run_main",
    "show_ms",
    "summary",
]

RESULTS_DIR = Path(__file__).resolve().parent / "results"
T = TypeVar("T")


class Spec(Protocol):
    """What this module needs of a server (or bot) under test."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def uses_redis(self) -> bool: ...


S = TypeVar("S", bound=Spec)


@dataclass(frozen=True)
class Options(Generic[S]):
    servers: tuple[S, ...]
    figures: frozenset[str]
    repeat: int
    duration: int  # seconds of one measured run (0: the script has no such option)
    quick: bool
    extra: dict[str, Any]  # script-specific options


def parse_options(
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None,
    *,
    servers: Sequence[S],
    default_servers: Sequence[str],
    figures: Sequence[str],
    repeat: int,
    duration: int | None,
    quick_duration: int | None,
) -> Options[S]:
    """Adds ``--quick``, ``--only``, ``--repeat`` and (unless ``duration`` is ``None``)
    ``--duration`` to ``parser``."""
    names = [s.name for s in servers]
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 repeat, short runs")
    parser.add_argument("--repeat", type=int, help=f"interleaved repeats (default {repeat})")
    if duration is not None:
        parser.add_argument(
            "--duration", type=int, help=f"seconds per measured run (default {duration})"
        )
    parser.add_argument(
        "--only",
        default="",
        help=f"comma-separated server names ({', '.join(names)}) and/or figures "
        f"({', '.join(figures)})",
    )
    args = parser.parse_args(argv)
    wanted = {n.strip() for n in args.only.split(",") if n.strip()}
    unknown = wanted - set(names) - set(figures)
    if unknown:
        parser.error(f"unknown --only name(s): {', '.join(sorted(unknown))}")
    chosen = wanted & set(names) or set(default_servers)
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")
    chosen_duration = getattr(args, "duration", None)
    if chosen_duration is not None and chosen_duration < 1:
        parser.error("--duration must be at least 1")
    return Options(
        servers=tuple(s for s in servers if s.name in chosen),
        figures=frozenset(wanted & set(figures) or figures),
        repeat=args.repeat or (1 if args.quick else repeat),
        duration=chosen_duration or (quick_duration if args.quick else duration) or 0,
        quick=args.quick,
        extra=vars(args),
    )


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def rotated(items: Sequence[T], turn: int) -> list[T]:
    if not items:
        return []
    turn %= len(items)
    return [*items[turn:], *items[:turn]]


def show_ms(value: float) -> str:
    return f"{fmt_ms(value)} ms"


_MODULES = {"daphne": "daphne", "uvicorn": "uvicorn", "sopel": "sopel"}


def ensure_servers_available(options: Options[S], results: Results) -> list[S]:
    """The selected servers that can run here; the others are recorded as missing."""
    usable = []
    for spec in options.servers:
        module = _MODULES.get(spec.kind)
        if module and importlib.util.find_spec(module) is None:
            results.missing[spec.name] = f"{module} not installed (pip install -e '.[bench]')"
        elif spec.uses_redis and find_server_binary() is None:
            results.missing[spec.name] = "no valkey-server/redis-server binary"
        else:
            usable.append(spec)
    return usable


@contextlib.contextmanager
def redis_for(specs: Sequence[Spec]) -> Iterator[str | None]:
    """A private Redis/Valkey server if any of ``specs`` needs one."""
    binary = find_server_binary()
    if binary is None or not any(s.uses_redis for s in specs):
        yield None
        return
    with private_server(binary) as server:
        yield server.url


def flush(url: str | None) -> None:
    """Empty the private server between two deployments' turns."""
    if url is None:
        return
    import redis

    client = redis.Redis.from_url(url, socket_timeout=10)
    try:
        client.flushall()
    finally:
        client.close()


_PACKAGES = ("django", "channels", "daphne", "uvicorn", "twisted", "autobahn")


def _meta(options: Options[S], tools: dict[str, str], packages: Sequence[str]) -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for package in packages:
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "not installed"
    return {
        "telephonist": telephonist_source(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "python": platform.python_version(),
        "versions": versions,
        "tools": tools,
        "repeat": options.repeat,
        "duration": options.duration,
        "servers": [s.name for s in options.servers],
        "figures": sorted(options.figures),
        "options": {k: v for k, v in options.extra.items() if k != "only"},
    }


def header(results: Results, title: str) -> str:
    meta = results.meta
    versions = ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
    load = ", ".join(f"{x:.2f}" for x in meta["load_average"])
    return (
        f"{title}, {meta['started']}: {meta['cpus']} CPUs (load average at start {load}), "
        f"Python {meta['python']}; medians of {meta['repeat']} interleaved repeats\n"
        f"{meta['telephonist']}\n{versions}"
    )


def summary(
    results: Results, title: str, body: list[str], profile_heading: str = "Profile of {name}:"
) -> str:
    """A script's printed summary: the header, ``body`` (its tables), then the profiles
    (``meta["profiles"]``, each under ``profile_heading``), servers not available, errors."""
    lines = [header(results, title), "", *body]
    for name, profile in results.meta.get("profiles", {}).items():
        lines += ["", profile_heading.format(name=name), profile]
    for name, reason in results.missing.items():
        lines.append(f"not available: {name}: {reason}")
    for key, error in results.errors.items():
        lines.append(f"error: {key}: {error}")
    return "\n".join(lines)


def _raise_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # unwinds like Ctrl-C: servers stopped in ``finally``


def run_main(
    name: str,
    options: Options[S],
    tools: dict[str, str],
    measure: Callable[[Results, list[S], str | None], None],
    summary: Callable[[Results], str],
    packages: Sequence[str] = _PACKAGES,
) -> int:
    """Measure, then write ``bench/results/<name>-<stamp>.json`` and print the summary
    (also after Ctrl-C, with what was measured so far)."""
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    results = Results(meta=_meta(options, tools, packages))
    specs = ensure_servers_available(options, results)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    status = 0
    try:
        with redis_for(specs) as url:
            results.meta["redis"] = url
            measure(results, specs, url)
    except KeyboardInterrupt:
        log("interrupted: printing what was measured")
        results.meta["interrupted"] = True
        status = 130
    path = results.write_json(RESULTS_DIR, stamp, name)
    print(summary(results))
    print(f"\nresults: {path}")
    return status

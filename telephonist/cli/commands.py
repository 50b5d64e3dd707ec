"""``telephonist run``, ``serve`` and ``worker``: the three ways to run the runtime."""

from __future__ import annotations

import argparse
import json
import logging

from ..config import ConfigError
from ..runtime import plan, run_plan
from ._common import EXIT_CONFIG, add_common, config_from_args, fail

__all__ = ["add_run", "add_serve", "add_worker"]

log = logging.getLogger("telephonist")

_RUN_EPILOG = """\
All-in-one: every configured interface and a worker in this process, on the in-memory
layer unless [layer] says otherwise. Stops gracefully on SIGTERM/SIGINT (a second one
skips the rest of the drain).

examples:
  telephonist run
  telephonist run --routing chat.routing.routes -s interfaces.linechat.port=7000
  telephonist run -c deploy/telephonist.toml --log-format json
"""

_SERVE_EPILOG = """\
Interface servers only: protocol events go to the layer for `telephonist worker`
processes (use a layer other processes can reach, e.g. BACKEND = "redis").

examples:
  telephonist serve
  telephonist serve --interface linechat
  TELEPHONIST_LAYER__BACKEND=redis telephonist serve -s 'layer.CONFIG.hosts=["redis://10.0.0.5:6379"]'
"""

_WORKER_EPILOG = """\
A worker only: takes messages from the channels its routing needs (plus the event
channels of the configured interfaces, so it can take connections whose first event
is not routed), narrowed by --only/--exclude globs, and runs the consumers.

examples:
  telephonist worker
  telephonist worker --only 'linechat.*'
  telephonist worker --exclude 'http.*' --exclude 'websocket.*' -s worker.concurrency=16
"""


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def _routing_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--routing", metavar="DOTTED.PATH", help="routing to use (overrides the `routing` setting)"
    )


def _run_common(args: argparse.Namespace, *, serve: bool, work: bool) -> int:
    extra = []
    if getattr(args, "routing", None):
        extra.append(f"routing={args.routing}")
    for name in ("only", "exclude"):
        globs = getattr(args, name, None)
        if globs:  # the command line replaces the configured list
            extra.append(f"worker.{name}={json.dumps(globs)}")
    config = config_from_args(args, extra)
    if config is None:
        return EXIT_CONFIG
    try:
        process = plan(config, serve=serve, work=work, only=getattr(args, "interface", None))
    except ConfigError as exc:
        return fail(exc.problems)
    return run_plan(process)


def add_run(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "run",
        help="interfaces and a worker in one process (all-in-one)",
        description="Run every configured interface and a worker in one process.",
        epilog=_RUN_EPILOG,
        formatter_class=_formatter,
    )
    _routing_option(parser)
    add_common(parser)
    parser.set_defaults(handler=lambda a: _run_common(a, serve=True, work=True))


def add_serve(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "serve",
        help="interface servers only",
        description="Run the configured interfaces; workers run elsewhere.",
        epilog=_SERVE_EPILOG,
        formatter_class=_formatter,
    )
    parser.add_argument(
        "-i",
        "--interface",
        action="append",
        metavar="NAME",
        help="serve only this configured interface (repeatable; default: all enabled)",
    )
    add_common(parser)
    parser.set_defaults(handler=lambda a: _run_common(a, serve=True, work=False))


def add_worker(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "worker",
        help="a worker only",
        description="Take messages from the layer and run the routed consumers.",
        epilog=_WORKER_EPILOG,
        formatter_class=_formatter,
    )
    _routing_option(parser)
    parser.add_argument(
        "--only",
        action="append",
        metavar="GLOB",
        help="take only shared channels matching GLOB (repeatable), e.g. 'linechat.*'",
    )
    parser.add_argument(
        "--exclude",
        action="append",
        metavar="GLOB",
        help="never take shared channels matching GLOB (repeatable)",
    )
    add_common(parser)
    parser.set_defaults(handler=lambda a: _run_common(a, serve=False, work=True))

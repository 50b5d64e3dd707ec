"""The ``telephonist`` command (``telephonist.cli:main``)."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable, Sequence

from .. import __version__
from .commands import add_run, add_serve, add_worker
from .inspect import add_interfaces, add_status

__all__ = ["build_parser", "main"]

_EPILOG = """\
Settings come from telephonist.toml (or --config FILE), then TELEPHONIST_* environment
variables (TELEPHONIST_LAYER__BACKEND=redis: '__' between keys), then -s KEY=VALUE.
See docs/runtime.md.

examples:
  telephonist interfaces
  telephonist run
  telephonist serve & telephonist worker --only 'linechat.*'
  telephonist status
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="telephonist",
        description="Interface servers, workers and routed consumers over a channel layer.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"telephonist {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for add in (add_run, add_serve, add_worker, add_interfaces, add_status):
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # Python hides DeprecationWarning outside __main__; an operator still typing a
    # renamed setting ([host]) must see it, so Telephonist's own are shown.
    warnings.filterwarnings("default", category=DeprecationWarning, module=r"telephonist\.")
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())

"""Options every command shares, and reading the configuration they name."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ..config import ConfigError, TelephonistConfig, load_config
from ..logging import setup_logging
from ..runtime import EXIT_CONFIG, EXIT_FAILURE, fail

__all__ = ["EXIT_CONFIG", "EXIT_FAILURE", "add_common", "config_from_args", "fail"]


def add_common(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("configuration")
    group.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        help="TOML file (default: $TELEPHONIST_CONFIG, else ./telephonist.toml if present)",
    )
    group.add_argument(
        "-s",
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one setting, e.g. -s worker.concurrency=8 (repeatable; "
        "VALUE is JSON if it parses, else a string)",
    )
    group.add_argument("--log-format", choices=["text", "json"], help="log format (default: text)")
    group.add_argument(
        "--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="default: INFO"
    )


def config_from_args(
    args: argparse.Namespace, extra: Sequence[str] = ()
) -> TelephonistConfig | None:
    """Load the configuration with ``args``'s overrides; print problems and return None."""
    overrides: list[str] = [*extra, *args.overrides]
    if args.log_format:
        overrides.append(f"log_format={args.log_format}")
    if args.log_level:
        overrides.append(f"log_level={args.log_level}")
    try:
        config = load_config(args.config, overrides=overrides)
    except ConfigError as exc:
        fail(exc.problems)
        return None
    # Console scripts do not put the working directory on sys.path; the routing module
    # and hooks of the project being served live there (as with manage.py).
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    setup_logging(config.log_format, config.log_level)
    return config

"""What the three ``manage.py`` commands share: options, configuration, logging, running.

They run exactly what ``telephonist run``/``serve``/``worker`` run
(:func:`telephonist.runtime.plan` and :func:`~telephonist.runtime.run_plan`),
with the configuration built from Django's settings first (:mod:`.settings`), so a
project can move between ``manage.py`` and the ``telephonist`` command freely.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ..config import ConfigError, TelephonistConfig
from ..logging import JsonFormatter, TextFormatter
from ..runtime import Plan, plan, run_plan
from .channels_app import SHUTDOWN_HOOK, STARTUP_HOOK, asgi_application_path
from .routing import activate
from .settings import load_django_config, log_replaced_backends

__all__ = ["RuntimeCommand"]


class RuntimeCommand(BaseCommand):
    """Base of ``runserver``, ``runworker`` and ``runinterfaces``."""

    #: Whether this command runs interfaces / a worker.
    serve = False
    work = False
    requires_system_checks: Sequence[str] | str = "__all__"

    def add_arguments(self, parser: CommandParser) -> None:
        group = parser.add_argument_group("Telephonist configuration")
        group.add_argument(
            "-c",
            "--config",
            metavar="FILE",
            help="a telephonist.toml over settings.TELEPHONIST "
            "(default: $TELEPHONIST_CONFIG, else ./telephonist.toml if present)",
        )
        group.add_argument(
            "-s",
            "--set",
            dest="overrides",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="override one setting, e.g. -s worker.threads=8 (repeatable; "
            "VALUE is JSON if it parses, else a string)",
        )
        group.add_argument("--log-format", choices=["text", "json"], help="default: text")
        group.add_argument(
            "--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="default: INFO"
        )

    # -- configuration ------------------------------------------------------------------

    def overrides(self, options: dict[str, Any]) -> list[str]:
        """``--set`` items this command adds (subclasses extend)."""
        extra: list[str] = []
        if options.get("log_format"):
            extra.append(f"log_format={options['log_format']}")
        if options.get("log_level"):
            extra.append(f"log_level={options['log_level']}")
        return extra

    def load(self, options: dict[str, Any], extra: Sequence[str] = ()) -> TelephonistConfig:
        try:
            return load_django_config(
                [*extra, *self.overrides(options), *options.get("overrides", [])],
                options.get("config"),
            )
        except ConfigError as exc:
            raise CommandError("invalid configuration:\n  " + "\n  ".join(exc.problems)) from exc

    def make_plan(
        self, config: TelephonistConfig, *, static: bool = False, only: Sequence[str] | None = None
    ) -> Plan:
        routing = activate(config.routing, static=static) if self.work else config.routing
        config = config.model_copy(update={"routing": routing})
        if self.work and asgi_application_path() is not None:
            # The hosted application is imported at start-up and drained at shut-down.
            worker = config.worker.model_copy(
                update={
                    "on_startup": [*config.worker.on_startup, STARTUP_HOOK],
                    "on_shutdown": [SHUTDOWN_HOOK, *config.worker.on_shutdown],
                }
            )
            config = config.model_copy(update={"worker": worker})
        try:
            return plan(config, serve=self.serve, work=self.work, only=only)
        except ConfigError as exc:
            raise CommandError("cannot start:\n  " + "\n  ".join(exc.problems)) from exc

    # -- running ------------------------------------------------------------------------

    @property
    def out(self) -> TextIO:
        # run_plan prints whole lines; Django's OutputWrapper would add its own newline.
        stream: TextIO = getattr(self.stdout, "_out", sys.stdout)
        return stream

    def setup_logging(self, config: TelephonistConfig) -> None:
        """Telephonist's log lines on stderr, unless the project's LOGGING handles them."""
        from django.conf import settings

        loggers = (getattr(settings, "LOGGING", None) or {}).get("loggers", {})
        if "telephonist" in loggers or logging.getLogger().handlers:
            log_replaced_backends()
            return
        logger = logging.getLogger("telephonist")
        if not logger.handlers:
            handler = logging.StreamHandler(sys.stderr)
            json_format = config.log_format == "json"
            handler.setFormatter(JsonFormatter() if json_format else TextFormatter())
            logger.addHandler(handler)
            logger.propagate = False  # Django's own loggers are not ours to reformat
        logger.setLevel(config.log_level)
        log_replaced_backends()

    def run_process(self, process: Plan) -> None:
        code = run_plan(process, self.out)
        if code:
            raise CommandError(f"stopped with exit code {code} (see the messages above)")


def globs_override(name: str, globs: Sequence[str] | None) -> list[str]:
    """``--only``/``--exclude`` replace the configured list (as ``telephonist worker``)."""
    return [f"worker.{name}={json.dumps(list(globs))}"] if globs else []


def add_globs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--only",
        action="append",
        metavar="GLOB",
        help="take only shared channels matching GLOB (repeatable), e.g. 'websocket.*'",
    )
    parser.add_argument(
        "--exclude",
        action="append",
        metavar="GLOB",
        help="never take shared channels matching GLOB (repeatable), e.g. 'http.*'",
    )


def add_static_options(parser: argparse.ArgumentParser) -> None:
    """``--nostatic`` and ``--insecure``, as ``django.contrib.staticfiles`` has them."""
    parser.add_argument(
        "--nostatic",
        action="store_false",
        dest="use_static_handler",
        help="Do not serve static files under STATIC_URL (served by default in DEBUG).",
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        dest="insecure_serving",
        help="Serve static files even if DEBUG is False.",
    )


def serves_static(options: dict[str, Any]) -> bool:
    """Whether static files are served: in DEBUG (or ``--insecure``), unless
    ``--nostatic``, with staticfiles installed."""
    from django.apps import apps
    from django.conf import settings

    return (
        bool(options.get("use_static_handler", True))
        and (settings.DEBUG or bool(options.get("insecure_serving")))
        and apps.is_installed("django.contrib.staticfiles")
    )

"""``manage.py runinterfaces``: interface servers only (workers run elsewhere)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from ..._command import RuntimeCommand

__all__ = ["Command"]


class Command(RuntimeCommand):
    help = (
        "Run the configured Telephonist interfaces (HTTP/WebSocket, IRC, email...): "
        "protocol events go to the channel layer for `manage.py runworker` processes. "
        "Examples: manage.py runinterfaces; manage.py runinterfaces --interface http"
    )
    serve = True

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "-i",
            "--interface",
            action="append",
            metavar="NAME",
            help="serve only this configured interface (repeatable; default: all enabled)",
        )
        super().add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        config = self.load(options)
        self.setup_logging(config)
        self.run_process(self.make_plan(config, only=options["interface"]))

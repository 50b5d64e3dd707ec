"""``manage.py runworker``: a worker only (a split deployment's worker processes)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from ..._command import RuntimeCommand, add_globs, globs_override

__all__ = ["Command"]


class Command(RuntimeCommand):
    help = (
        "Run a Telephonist worker: take messages from the channel layer and run the "
        "routed consumers (and Django views for http.request). Interfaces run elsewhere "
        "(manage.py runinterfaces) over a layer both reach, such as Redis. "
        "Examples: manage.py runworker --only 'websocket.*'; "
        "manage.py runworker --exclude 'http.*' -s worker.threads=8"
    )
    work = True

    def add_arguments(self, parser: CommandParser) -> None:
        add_globs(parser)
        super().add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        extra = globs_override("only", options["only"]) + globs_override(
            "exclude", options["exclude"]
        )
        config = self.load(options, extra)
        self.setup_logging(config)
        self.run_process(self.make_plan(config))

"""``manage.py runworker``: a worker only (a split deployment's worker processes).

HTTP requests of a split deployment reach the workers, so a worker serves static files
in DEBUG as ``runserver`` does (``--nostatic``, ``--insecure`` as there): the example's
pages work whatever the process shape.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from ..._command import (
    RuntimeCommand,
    add_globs,
    add_static_options,
    globs_override,
    serves_static,
)

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
        add_static_options(parser)
        super().add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        extra = globs_override("only", options["only"]) + globs_override(
            "exclude", options["exclude"]
        )
        config = self.load(options, extra)
        self.setup_logging(config)
        self.run_process(self.make_plan(config, static=serves_static(options)))

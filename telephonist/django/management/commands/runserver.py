"""``manage.py runserver``: Django's development command, serving every protocol.

All-in-one: every configured interface (HTTP and WebSocket by default) and a worker in
one process on one event loop, on the in-memory layer unless ``TELEPHONIST['layer']``
says otherwise. It behaves as Django's own: ``[addr:]port`` (``8000``, ``0:8000``,
``[::1]:8000``), ``--ipv6``, ``--noreload``, ``--skip-checks``, system checks and the
unapplied-migrations warning before serving, code reloading through
``django.utils.autoreload``, and static files in DEBUG (``--nostatic``, ``--insecure``
as with ``django.contrib.staticfiles``).

It subclasses Django's command for everything but the server itself, so the argument
parsing is Django's, unchanged, and so is the reloader but for its stop: under it the
server runs in Django's ``django-main-thread`` and a code change ends the process, as
for Django's WSGI server, while Ctrl-C and SIGTERM stop it as gracefully as with
``--noreload`` (:mod:`telephonist.django.reloader`).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser
from django.core.management.commands.runserver import Command as DjangoRunserver
from django.db import connections
from django.utils import autoreload

from ....runtime import run_plan
from ..._command import RuntimeCommand, add_static_options, serves_static
from ...reloader import run_with_reloader

__all__ = ["Command"]


class Command(RuntimeCommand, DjangoRunserver):
    help = (
        "Start the Telephonist all-in-one server: every configured interface (HTTP and "
        "WebSocket by default, plus IRC, email... as settings.TELEPHONIST says) and a "
        "worker in one process, with code reloading and static files in DEBUG. "
        "Examples: manage.py runserver; manage.py runserver 0:8000 --noreload; "
        "manage.py runserver -s interfaces.email.port=2526"
    )
    serve = True
    work = True
    # Django's own choice (it changed across versions): checks run in inner_run, on
    # every reload, not once before the reloader starts.
    requires_system_checks: Sequence[str] | str = DjangoRunserver.requires_system_checks

    def add_arguments(self, parser: CommandParser) -> None:
        DjangoRunserver.add_arguments(self, parser)
        add_static_options(parser)
        RuntimeCommand.add_arguments(self, parser)

    def _endpoint_overrides(self, options: dict[str, Any]) -> list[str]:
        """The address argument replaces the HTTP interface's endpoints, as it replaces
        Django's listening address; without it the settings (default 127.0.0.1:8000)
        apply."""
        if not options.get("addrport"):
            return []
        addr = "0.0.0.0" if self.addr == "0" else self.addr
        if self.use_ipv6:
            endpoint = f"tcp6:port={self.port}:interface={addr.replace(':', chr(92) + ':')}"
        else:
            endpoint = f"tcp:port={self.port}:interface={addr}"
        return [f"interfaces.http.endpoints={json.dumps([endpoint])}"]

    def _banner(self) -> None:
        now = datetime.now().strftime("%B %d, %Y - %X")
        out = self.out
        print(now, file=out)
        version = self.get_version()
        print(f"Django version {version}, using settings {settings.SETTINGS_MODULE!r}", file=out)
        print("Starting Telephonist all-in-one server (interfaces and a worker).", file=out)
        print("Quit the server with CONTROL-C.", file=out)
        out.flush()

    def run(self, **options: Any) -> None:
        """As Django's, with a reloader whose processes stop gracefully (``.reloader``)."""
        if options["use_reloader"]:
            run_with_reloader(self.inner_run, **options)
        else:
            self.inner_run(None, **options)

    def inner_run(self, *args: Any, **options: Any) -> None:
        autoreload.raise_last_exception()
        if not options.get("skip_checks"):
            self.stdout.write("Performing system checks...\n\n")
            self.check(display_num_errors=True)
        self.check_migrations()
        for conn in connections.all(initialized_only=True):
            conn.close()  # the checks' connections belong to this thread only
        config = self.load(options, self._endpoint_overrides(options))
        self.setup_logging(config)
        process = self.make_plan(config, static=serves_static(options))
        self._banner()
        code = run_plan(process, self.out)
        if code:
            if threading.current_thread() is threading.main_thread():
                raise CommandError(f"stopped with exit code {code} (see the messages above)")
            # Under the reloader this is Django's server thread: only an OS exit ends
            # the process (Django's runserver does the same on a port in use).
            self.stderr.write(f"Error: stopped with exit code {code} (see the messages above)")
            os._exit(code)

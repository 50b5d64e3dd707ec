"""Test tools for Django projects (they work with pytest-django and Django's TestCase).

* :class:`ConsumerTester`: ``telephonist.testing.ConsumerTester`` over the project's
  routing (``TELEPHONIST['routing']`` plus Django views for HTTP, as the commands
  route) with no sockets and no sleeps. It also forgets the per-connection state
  (cached channel sessions) when it closes, so a test's database rollback or flush is
  never contradicted by a session cached in memory.
* :class:`LiveServer`: the project's interfaces and a worker started for real, in a
  subprocess (``manage.py runserver --noreload`` on free ports), against the test
  database. A subprocess rather than a thread because Twisted's reactor is one per
  process, bound to one event loop: the server must own its process. It needs data the
  test wrote to be committed, hence ``TransactionTestCase``/``transactional_db``, and a
  test database other processes can open (SQLite: a file, set ``TEST['NAME']``).
* :class:`TelephonistLiveServerTestCase`: a ``TransactionTestCase`` with
  ``self.live_server`` started once per class.

pytest fixtures using these are in :mod:`telephonist.django.pytest_plugin`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from django.test import TransactionTestCase

from ..testing import ConsumerTester as _BaseTester
from ..testing import Routing
from ..testing.processes import Process, ProcessExited
from .routing import compose
from .settings import load_django_config
from .state import connection_state

__all__ = ["ConsumerTester", "LiveServer", "LiveServerError", "TelephonistLiveServerTestCase"]

# Not TELEPHONIST_*: that prefix is read as settings (telephonist.config.sources).
DATABASES_ENV = "DJANGO_LIVE_TEST_DATABASES"
_ENDPOINT = re.compile(r"^interface (?P<name>[\w.-]+): (?P<where>\S+://\S+.*)$")
_READY = r"^telephonist: ready$"


def project_routing() -> Routing:
    """What the ``manage.py`` commands route: the project's routing and Django views."""
    return compose(load_django_config().routing)


class ConsumerTester(_BaseTester):
    """``with ConsumerTester() as t: t.send("websocket.connect", {"path": "/chat/"})``.

    Without ``routing``, the project's (see the module doc)."""

    def __init__(self, routing: Routing | None = None, **kwargs: Any) -> None:
        super().__init__(project_routing() if routing is None else routing, **kwargs)

    def __enter__(self) -> ConsumerTester:
        super().__enter__()
        return self

    def release(self, reply_channel: str | None = None) -> None:
        """What the worker does when a connection ends: drop its cached state and
        delete what lived only for it (its channel session)."""
        connection_state.end(reply_channel or self.reply_channel)

    def evict(self, reply_channel: str | None = None) -> None:
        """Drop the connection's cached state only, as the worker's bounded cache does
        under load: the next event reads it back."""
        connection_state.forget(reply_channel or self.reply_channel)

    def close(self) -> None:
        try:
            super().close()
        finally:
            connection_state.clear()


class LiveServerError(RuntimeError):
    """The live server did not start (its output is in the message)."""


def _database_names() -> dict[str, str]:
    """The names the test runner gave the databases (``test_...``), for the server."""
    from django.db import connections

    names = {}
    for alias in connections:
        settings_dict = connections[alias].settings_dict
        name = str(settings_dict.get("NAME") or "")
        if settings_dict["ENGINE"].endswith("sqlite3") and (
            not name or name == ":memory:" or "mode=memory" in name
        ):
            raise LiveServerError(
                f"database {alias!r} is an in-memory SQLite database, which another "
                f"process cannot open: set DATABASES[{alias!r}]['TEST']['NAME'] to a file"
            )
        names[alias] = name
    return names


class LiveServer:
    """The project's interfaces and a worker, for real, in a subprocess (module doc).

    ``overrides`` are ``KEY=VALUE`` settings (as ``-s``); the HTTP interface listens on
    ``addrport``, a free loopback port by default (a fixed one lets a test stop the
    server and start it again where its clients reconnect). ``databases`` names the databases
    (alias -> NAME) instead of this process's test databases; ``env`` and ``cwd`` serve
    another project (``{"DJANGO_SETTINGS_MODULE": ...}``). ``urls`` maps each interface to
    what it printed (``{"http": ["http://127.0.0.1:41234"]}``).
    """

    def __init__(
        self,
        overrides: Sequence[str] = (),
        *,
        timeout: float = 30.0,
        env: dict[str, str] | None = None,
        cwd: str | Path | None = None,
        databases: Mapping[str, str] | None = None,
        addrport: str = "127.0.0.1:0",
    ) -> None:
        self.overrides = list(overrides)
        self.addrport = addrport
        self.timeout = timeout
        self.env = env or {}
        self.cwd = cwd
        self.databases = databases
        self.urls: dict[str, list[str]] = {}
        self._proc: Process | None = None
        self._log = ""  # what a stopped server printed

    @property
    def http_url(self) -> str:
        """``http://127.0.0.1:PORT`` of the HTTP interface."""
        return self.urls["http"][0]

    def ws_url(self, path: str = "/") -> str:
        return "ws" + self.http_url[len("http") :] + path

    def start(self) -> LiveServer:
        from django.conf import settings

        args = [sys.executable, "-m", "telephonist.django.live", self.addrport]
        for item in self.overrides:
            args += ["-s", item]
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": str(settings.SETTINGS_MODULE),
            "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
            "PYTHONUNBUFFERED": "1",
            DATABASES_ENV: json.dumps(
                _database_names() if self.databases is None else dict(self.databases)
            ),
            **self.env,
        }
        directory = Path(tempfile.mkdtemp(prefix="telephonist-live-"))
        self._proc = Process(args, log=directory / "server.log", cwd=self.cwd, env=env)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                line = self._proc.wait_for_line(
                    f"{_ENDPOINT.pattern}|{_READY}",
                    timeout=max(0.0, deadline - time.monotonic()),
                )
            except (ProcessExited, TimeoutError) as exc:
                raise LiveServerError(f"{exc}\n{self.log}") from None
            found = _ENDPOINT.match(line.group(0))
            if found and "disabled:" not in line.group(0):
                self.urls[found["name"]] = [u.strip() for u in found["where"].split(",")]
            if line.group(0) == "telephonist: ready":
                return

    @property
    def log(self) -> str:
        """Everything the server printed so far (stdout and stderr)."""
        return self._proc.output() if self._proc is not None else self._log

    @property
    def output(self) -> list[str]:
        """``log`` as lines."""
        return self.log.splitlines()

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM (a graceful stop), then a kill if it takes longer than ``timeout``."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            proc.stop(timeout)
        finally:
            self._log = proc.output()
            shutil.rmtree(proc.log.parent, ignore_errors=True)

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class TelephonistLiveServerTestCase(TransactionTestCase):
    """``self.live_server`` serves the project for real during the class's tests."""

    live_server_overrides: ClassVar[Sequence[str]] = ()
    live_server: ClassVar[LiveServer]

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.live_server = LiveServer(cls.live_server_overrides).start()
        cls.addClassCleanup(cls.live_server.stop)

"""Database connections around sync consumers: no leak, reuse, recovery.

Thousands of sync consumers run through the real Dispatcher in a pool of worker
threads, each making a query, against SQLite (a file) and PostgreSQL (the machine's
server). What is counted is what the database side sees: PostgreSQL's
``pg_stat_activity`` rows of this test, or the file descriptors of this process open on
the SQLite file. Without the hooks of ``telephonist.django.db`` each worker thread
would keep its connection forever (CONN_MAX_AGE=0 means "close after each unit of
work" and there would be no unit of work), and a connection the server killed would
stay broken in its thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.db import connections
from django.db.backends.signals import connection_created

from telephonist.consumers import Message
from telephonist.core.memory import InMemoryChannelLayer
from telephonist.routing import Router, route
from telephonist.worker.dispatch import Dispatcher, Outcome
from tests.servers import require_service

CONSUMERS = 2000
THREADS = 8
APP_NAME = "telephonist-leak-test"

PG = "pg" in settings.DATABASES
ALIASES = [
    pytest.param("default", marks=pytest.mark.django_db(transaction=True)),
    pytest.param(
        "pg",
        marks=pytest.mark.django_db(transaction=True, databases=["default", "pg"]) if PG else (),
    ),
]


@pytest.fixture(params=ALIASES)
def alias(request: pytest.FixtureRequest) -> Iterator[str]:
    name: str = request.param
    if name not in connections.settings:
        require_service("PostgreSQL on 127.0.0.1:5432 (the 'pg' database of the tests)")
    db = connections.settings[name]
    saved = {k: db.get(k) for k in ("CONN_MAX_AGE", "CONN_HEALTH_CHECKS", "OPTIONS")}
    if name == "pg":
        db["OPTIONS"] = {**(db.get("OPTIONS") or {}), "application_name": APP_NAME}
    yield name
    db.update(saved)


def open_connections(alias: str) -> int:
    """Connections to the test database other than the test thread's own."""
    if alias == "pg":
        with connections[alias].cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE application_name = %s AND pid <> pg_backend_pid()",
                [APP_NAME],
            )
            (count,) = cursor.fetchone()
            return int(count)
    path = os.path.realpath(connections[alias].settings_dict["NAME"])
    fds = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.path.realpath(os.readlink(f"/proc/self/fd/{fd}")) == path:
                fds += 1
        except OSError:
            continue  # closed between listdir and readlink
    return fds


def settled(alias: str, at_most: int, within: float = 10.0) -> int:
    """``open_connections`` once it is ``at_most`` or the time is up. A PostgreSQL
    backend leaves pg_stat_activity when its process exits, a moment after the client
    closed the socket: that exit is what is waited for (bounded), not our own work."""
    count = open_connections(alias)
    if alias != "pg":
        return count  # a closed SQLite connection's file descriptor is gone at once
    deadline = time.monotonic() + within
    while count > at_most and time.monotonic() < deadline:
        time.sleep(0.05)  # poll interval of an outside observation, not synchronisation
        count = open_connections(alias)
    return count


class Run:
    """Dispatch ``n`` messages to a query-making sync consumer on ``THREADS`` threads;
    the threads stay alive until ``close`` (an ended thread's connection is garbage,
    which would hide a leak)."""

    def __init__(self, alias: str) -> None:
        self.alias = alias
        self.executor = concurrent.futures.ThreadPoolExecutor(THREADS)
        self.created = 0
        self._opened: list[Any] = []

        def query(message: Message) -> None:
            with connections[alias].cursor() as cursor:
                cursor.execute("SELECT 1")

        router = Router([route("db.work", query)])
        self.dispatcher = Dispatcher(router, InMemoryChannelLayer(), executor=self.executor)

    def _on_created(self, sender: Any, connection: Any, **kwargs: Any) -> None:
        if connection.alias == self.alias:
            self.created += 1
            self._opened.append(connection)

    def __call__(self, n: int) -> list[Outcome]:
        async def main() -> list[Outcome]:
            work = [self.dispatcher.dispatch("db.work", {"type": "db.work"}) for _ in range(n)]
            return list(await asyncio.gather(*work))

        connection_created.connect(self._on_created)
        try:
            return asyncio.run(main())
        finally:
            connection_created.disconnect(self._on_created)

    def close(self) -> None:
        self.executor.shutdown(wait=True)
        # What the worker threads left open (a persistent connection each) is closed at
        # the driver level: Django's wrapper may only be used by its own, ended, thread.
        for connection in self._opened:
            if connection.connection is not None:
                connection.connection.close()


@pytest.fixture
def run(alias: str) -> Iterator[Run]:
    runner = Run(alias)
    yield runner
    runner.close()


def test_conn_max_age_0_closes_every_connection_after_its_consumer(alias: str, run: Run) -> None:
    connections.settings[alias]["CONN_MAX_AGE"] = 0
    before = settled(alias, 0)  # what earlier tests closed has gone
    outcomes = run(CONSUMERS)
    assert outcomes.count(Outcome.CONSUMED) == CONSUMERS
    assert settled(alias, before) <= before  # nothing left open by the worker threads


def test_persistent_connections_are_reused_not_leaked(alias: str, run: Run) -> None:
    connections.settings[alias]["CONN_MAX_AGE"] = 600
    before = settled(alias, 0)  # what earlier tests closed has gone
    outcomes = run(CONSUMERS)
    assert outcomes.count(Outcome.CONSUMED) == CONSUMERS
    assert run.created <= THREADS  # one per thread, reused by thousands of consumers
    assert settled(alias, before + THREADS) - before <= THREADS
    outcomes = run(CONSUMERS)  # a second wave opens nothing new
    assert outcomes.count(Outcome.CONSUMED) == CONSUMERS
    assert run.created <= THREADS
    assert settled(alias, before + THREADS) - before <= THREADS


@pytest.mark.parametrize("alias", ALIASES[1:], indirect=True)  # a server to kill it
def test_a_connection_killed_by_the_server_is_replaced_before_the_next_consumer(
    alias: str, run: Run
) -> None:
    db = connections.settings[alias]
    db["CONN_MAX_AGE"] = 600
    db["CONN_HEALTH_CHECKS"] = True
    assert run(CONSUMERS // 2).count(Outcome.CONSUMED) == CONSUMERS // 2
    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = %s AND pid <> pg_backend_pid()",
            [APP_NAME],
        )
        (killed,) = cursor.fetchone()
    assert killed >= 1
    # Each thread's next consumer starts with close_old_connections(), which re-arms
    # the health check: the dead connection is noticed and replaced, no consumer fails.
    outcomes = run(CONSUMERS // 2)
    assert outcomes.count(Outcome.CONSUMED) == CONSUMERS // 2

"""Connection affinity across processes: ``telephonist serve`` plus two ``telephonist
worker`` processes over a real Redis-protocol server.

The chat consumer keeps a per-connection counter in worker memory and numbers its
replies with it, so a reply is right only if every event of that connection reached the
same worker, in order.
"""

from __future__ import annotations

import re
import secrets
import signal
import threading
import time
from collections.abc import Callable

import pytest

from tests.servers import RedisServer

from .conftest import TIMEOUT, ChatClient, Proc, Spawn

pytestmark = [pytest.mark.redis, pytest.mark.slow]

HEARTBEAT = 0.3
MISSES = 3


@pytest.fixture
def redis_env(redis_server: RedisServer) -> dict[str, str]:
    prefix = "t" + secrets.token_hex(4)  # each test its own keys on the shared server
    return {
        "TELEPHONIST_LAYER__BACKEND": "redis",
        "TELEPHONIST_LAYER__CONFIG": f'{{"hosts": ["{redis_server.url}"], "prefix": "{prefix}"}}',
        "TELEPHONIST_AFFINITY__HEARTBEAT_INTERVAL": str(HEARTBEAT),
        "TELEPHONIST_AFFINITY__HEARTBEAT_MISSES": str(MISSES),
    }


def _split(spawn: Spawn, env: dict[str, str]) -> tuple[Proc, Proc, Proc]:
    server = spawn("serve", env=env)
    a = spawn("worker", env=env)
    b = spawn("worker", env=env)
    for proc in (server, a, b):
        proc.ready()
    return server, a, b


def _pid_of(welcome: str) -> int:
    found = re.fullmatch(r"welcome guest\d+ pid=(\d+)", welcome)
    assert found, welcome
    return int(found.group(1))


def _connect_until_both_used(
    port: int, clients: Callable[[int], ChatClient], pids: tuple[int, int], each: int = 3
) -> dict[int, list[ChatClient]]:
    """Open connections until each worker serves at least ``each`` (bounded)."""
    by_pid: dict[int, list[ChatClient]] = {pid: [] for pid in pids}
    # Which worker pops a connect is up to the two; under heavy load one of them can win
    # many times in a row, so the bound is generous (each try is one quick connection).
    for _ in range(200):
        if all(len(c) >= each for c in by_pid.values()):
            return by_pid
        client = clients(port)
        served = by_pid[_pid_of(client.line())]
        if len(served) < each:
            served.append(client)
        else:
            client.close()  # surplus: keep well under the plugin's connection limit
    raise AssertionError(f"connections did not spread over both workers: {by_pid}")


def _converse(client: ChatClient, count: int, start: int, errors: list[str]) -> None:
    try:
        for i in range(count):  # all lines at once: they race if anything lets them
            client.send(f"line {i}")
        for i in range(count):
            reply = client.line()
            expected = re.compile(rf"{start + i} \w+: line {i}")
            if not expected.fullmatch(reply):
                errors.append(f"expected {expected.pattern!r}, got {reply!r}")
                return
    except Exception as exc:  # reported by the test thread
        errors.append(repr(exc))


def test_per_connection_order_holds_across_two_worker_processes(
    spawn: Spawn, redis_env: dict[str, str], clients: Callable[[int], ChatClient]
) -> None:
    server, a, b = _split(spawn, redis_env)
    pids = (a.popen.pid, b.popen.pid)
    by_pid = _connect_until_both_used(server.endpoint(), clients, pids, each=4)
    everyone = [c for group in by_pid.values() for c in group]
    errors: list[str] = []
    threads = [threading.Thread(target=_converse, args=(c, 40, 0, errors)) for c in everyone]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a conversation hung"
    assert errors == []


def test_a_killed_worker_s_connections_are_closed_within_the_bound(
    spawn: Spawn, redis_env: dict[str, str], clients: Callable[[int], ChatClient]
) -> None:
    server, a, b = _split(spawn, redis_env)
    by_pid = _connect_until_both_used(server.endpoint(), clients, (a.popen.pid, b.popen.pid))
    victims, survivors = by_pid[a.popen.pid], by_pid[b.popen.pid]

    a.popen.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    for client in victims:
        assert client.line() == "error: connection aborted (its worker stopped sending heartbeats)"
        assert client.line() == ""
    elapsed = time.monotonic() - killed_at
    # Bound: heartbeat_interval x heartbeat_misses after the last heartbeat, plus slack.
    assert elapsed < HEARTBEAT * (MISSES + 1) + 2.0, elapsed

    for client in survivors:  # the other worker's connections never noticed
        client.send("still here")
        assert re.fullmatch(r"0 guest\d+: still here", client.line())
    fresh = clients(server.endpoint())
    assert _pid_of(fresh.line()) == b.popen.pid
    fresh.send("new")
    assert re.fullmatch(r"0 guest\d+: new", fresh.line())


def test_a_worker_stopping_gracefully_hands_its_connections_back_at_once(
    spawn: Spawn, redis_env: dict[str, str], clients: Callable[[int], ChatClient]
) -> None:
    env = {**redis_env, "TELEPHONIST_AFFINITY__HEARTBEAT_INTERVAL": "30"}  # not the heartbeat
    server, a, b = _split(spawn, env)
    by_pid = _connect_until_both_used(server.endpoint(), clients, (a.popen.pid, b.popen.pid), 1)
    a.signal(signal.SIGTERM)
    assert a.wait() == 0
    for client in by_pid[a.popen.pid]:
        assert client.line() == "error: connection aborted (its worker stopped)"
    for client in by_pid[b.popen.pid]:
        client.send("fine")
        assert re.fullmatch(r"0 guest\d+: fine", client.line())


def test_serve_drains_on_sigterm_while_a_remote_worker_answers(
    spawn: Spawn, redis_env: dict[str, str], clients: Callable[[int], ChatClient]
) -> None:
    server, a, b = _split(spawn, redis_env)
    client = clients(server.endpoint())
    worker = a if _pid_of(client.line()) == a.popen.pid else b
    client.send("slow split")
    worker.wait_for("^slow consumer started$")
    server.signal(signal.SIGTERM)
    assert client.line() == "done slow split"
    assert client.line() == "* server shutting down, goodbye"
    assert server.wait() == 0

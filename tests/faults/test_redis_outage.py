"""The layer's Redis killed (SIGKILL) under live clients of every protocol, and started
again: for longer than the layer's ``retry_budget`` and for less.

Longer: a new HTTP request gets 503 with Retry-After and a new WebSocket handshake 503,
both at once (not after a budget spent waiting, not a 504); an open WebSocket whose
frame cannot reach a consumer is closed 1013; a mail gets 451 (the sender keeps it and
retries); the IRC connection stays and what it could not deliver is counted; a reply
the consumer sends into the outage is counted as lost in the worker. Shorter:
the open WebSocket's frame waits and is answered, and no connection is aborted because
heartbeats could not cross a layer that was down for everyone (heartbeats are 0.2 s
here: the outage lasts past every heartbeat deadline).

Either way: no process crashes, everything serves again once Redis is back, the host's
tables are empty once the clients are gone, and the whole outage costs a few log lines,
none a traceback: one when Redis is lost, one when it is back with what was refused.
"""

from __future__ import annotations

import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from telephonist.testing.processes import wait_until
from tests.faults._kit import (
    ROOM,
    IrcClient,
    Stack,
    assert_no_leaks,
    assert_quiet_log,
    irc_line,
    smtp_code,
)

pytestmark = [pytest.mark.redis]


def _serving(stack: Stack) -> bool:
    try:
        return httpx.get(f"{stack.base}/echo/back", timeout=10).status_code == 200
    except httpx.HTTPError:
        return False


def _kill_redis(stack: Stack) -> None:
    assert stack.redis.proc is not None
    stack.redis.proc.kill()
    wait_until(lambda: not stack.layer_reachable(), timeout=10, what="Redis seen gone")


def test_redis_down_longer_than_the_retry_budget(tmp_path: Path) -> None:
    with Stack.running(tmp_path, retry_budget=0.5, irc=True) as stack:
        assert stack.irc is not None
        person = IrcClient(stack.irc.port, "alice")
        person.send(f"JOIN {ROOM}")
        irc_line(person, "before")
        assert httpx.get(f"{stack.base}/echo/before", timeout=10).status_code == 200
        assert smtp_code(stack.smtp_port) == 250
        with ThreadPoolExecutor(1) as pool, connect(stack.ws, open_timeout=10) as ws:
            late = pool.submit(httpx.get, f"{stack.base}/later", timeout=30)
            stack.worker.wait_for_line("later: waiting for SIGUSR1")
            ws.send("before")
            assert ws.recv(timeout=10) == "echo:before"
            _kill_redis(stack)

            # The consumer answers now, into a layer that is down: the reply is lost,
            # counted in the worker; the client gets the server's 504 at its bound.
            stack.worker.process.signal(signal.SIGUSR1)
            assert late.result(timeout=30).status_code == 504
            wait_until(
                lambda: stack.status()["worker"]["dispatch"]["dropped"].get("layer_unavailable"),
                timeout=15,
                what="the lost reply counted",
            )

            started = time.monotonic()
            answer = httpx.get(f"{stack.base}/echo/during", timeout=30)
            assert answer.status_code == 503
            assert answer.headers["retry-after"] == "1"
            with pytest.raises(InvalidStatus) as refused:
                connect(stack.ws, open_timeout=30)
            assert refused.value.response.status_code == 503
            # At once: not after the handshake timeout (30 s here) nor a retry budget.
            assert time.monotonic() - started < 5

            ws.send("during")
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=30)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1013

        assert smtp_code(stack.smtp_port) == 451
        person.send(f"PRIVMSG {ROOM} :during")
        wait_until(
            lambda: stack.counter("irc", "dropped_layer_unavailable"),
            timeout=15,
            what="the undeliverable IRC line counted",
        )

        stack.redis.start()
        wait_until(lambda: _serving(stack), timeout=20, what="serving again")
        with connect(stack.ws, open_timeout=10) as ws:
            ws.send("after")
            assert ws.recv(timeout=10) == "echo:after"
        assert smtp_code(stack.smtp_port) == 250
        irc_line(person, "after")  # the same IRC session: the bot never left
        person.close()

        assert_no_leaks(stack, irc_rooms=1)  # the IRC room's conversation lives on
        for proc in (stack.serve, stack.worker):
            lines = assert_quiet_log(proc, max_warnings=12)
            assert sum("lost connection to Redis" in ln for ln in lines) == 1, lines
            assert sum("reconnected to Redis" in ln for ln in lines) == 1, lines
        assert stack.serve.process.poll() is None
        assert stack.worker.process.poll() is None


def test_redis_back_within_the_retry_budget(tmp_path: Path) -> None:
    with Stack.running(tmp_path, retry_budget=30.0) as stack:
        with connect(stack.ws, open_timeout=10) as ws:
            ws.send("before")
            assert ws.recv(timeout=10) == "echo:before"
            _kill_redis(stack)
            # Both sides pass a heartbeat deadline with their layer down...
            wait_until(stack.layer_down_seen, timeout=15, what="heartbeat deadlines passed")
            ws.send("during")  # ...and this frame waits, inside the budget, for Redis
            stack.redis.start()
            assert ws.recv(timeout=30) == "echo:during"
            ws.send("after")
            assert ws.recv(timeout=10) == "echo:after"
        assert httpx.get(f"{stack.base}/echo/after", timeout=10).status_code == 200
        counters = stack.status()["host"]["counters"]
        assert not counters.get("worker_lost"), counters
        assert_no_leaks(stack)
        for proc in (stack.serve, stack.worker):
            assert_quiet_log(proc, max_warnings=4)

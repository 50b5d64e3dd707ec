"""The worker SIGKILLed while it holds HTTP requests, WebSockets, mail and an IRC
conversation, with clients still sending: every client gets its protocol's answer (502
for a request with a streamed body, 504 at ``response_timeout`` for a one-event request
the worker held, close 1011 for a WebSocket, a reply code for every mail, the IRC
connection kept), nothing is reset or left hanging, the interface server does not crash
and logs a few lines without a traceback, and once a new worker runs everything is
served again and the server's tables hold nothing of the dead worker's connections.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

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

HELD = 4  # requests the worker holds when it dies
SOCKETS = 3
LOAD = 200  # at most this many requests/mails per load thread


def _load(stack: Stack, stop: threading.Event) -> list[object]:
    """Requests one after another until ``stop``: each one's status, or its error."""
    seen: list[object] = []
    with httpx.Client(timeout=30) as client:
        for i in range(LOAD):
            if stop.is_set():
                break
            try:
                seen.append(client.get(f"{stack.base}/echo/load{i}").status_code)
            except httpx.HTTPError as exc:
                seen.append(exc)
    return seen


def _mails(stack: Stack, stop: threading.Event) -> list[int]:
    codes = []
    for _ in range(LOAD):
        if stop.is_set():
            break
        codes.append(smtp_code(stack.smtp_port))
    return codes


def _closed_code(ws: ClientConnection) -> int | None:
    with pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=30)
    return closed.value.rcvd.code if closed.value.rcvd else None


def test_worker_killed_under_load(tmp_path: Path) -> None:
    with Stack.running(tmp_path, retry_budget=5.0, irc=True) as stack:
        assert stack.irc is not None
        person = IrcClient(stack.irc.port, "bob")
        person.send(f"JOIN {ROOM}")
        irc_line(person, "before")
        stop = threading.Event()
        with ExitStack() as opened, ThreadPoolExecutor(HELD + 3) as pool:
            sockets = [
                opened.enter_context(connect(stack.ws, open_timeout=10, close_timeout=5))
                for _ in range(SOCKETS)
            ]
            held = [pool.submit(httpx.get, f"{stack.base}/hang", timeout=60) for _ in range(HELD)]
            # A streamed body (over body_chunk_bytes): bound to the worker, watched.
            streamed = pool.submit(
                httpx.post, f"{stack.base}/hang", content=b"x" * (256 * 1024), timeout=60
            )
            load = pool.submit(_load, stack, stop)
            mails = pool.submit(_mails, stack, stop)
            for ws in sockets:
                ws.send("before")
                assert ws.recv(timeout=10) == "echo:before"
            for _ in range(HELD + 1):
                stack.worker.wait_for_line("hanging on /hang")
            person.send(f"PRIVMSG {ROOM} :while the worker dies")

            stack.worker.process.kill()

            # The bound request: 502 as soon as the worker's heartbeats are missed.
            assert streamed.result(timeout=60).status_code == 502
            # Each one-event request the worker held: 504 once ``response_timeout`` has passed
            # (one-event requests are not bound to a worker that could be watched).
            assert [f.result(timeout=60).status_code for f in held] == [504] * HELD
            for ws in sockets:
                assert _closed_code(ws) == 1011
            stop.set()
            answered = load.result(timeout=60)
            codes = mails.result(timeout=60)
        assert all(a in (200, 502, 503, 504) for a in answered), answered
        assert all(c in (250, 451) for c in codes), codes
        assert stack.serve.process.poll() is None

        stack.worker = stack.start_worker()
        assert httpx.get(f"{stack.base}/echo/after", timeout=10).status_code == 200
        with connect(stack.ws, open_timeout=10) as ws:
            ws.send("after")
            assert ws.recv(timeout=10) == "echo:after"
        assert smtp_code(stack.smtp_port) == 250
        irc_line(person, "after")  # the same IRC session; its conversation, bound anew
        person.close()

        assert_no_leaks(stack, irc_rooms=1)
        warnings = assert_quiet_log(stack.serve, max_warnings=16)
        assert any("its worker stop" in ln for ln in warnings), warnings
        assert_quiet_log(stack.worker, max_warnings=2)

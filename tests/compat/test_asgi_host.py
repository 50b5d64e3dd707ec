"""``AsgiApplicationConsumer`` without sockets: an ASGI application's instance per
connection, fed by layer messages, answering on the reply channel, on the in-memory
layer. What a server owes a misbehaving application is tested here: an exception, a
return without closing, an application that stops reading, a lost interface server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from telephonist.consumers.asgi_app import AsgiApplicationConsumer
from telephonist.consumers.asgi_events import asgi_event, asgi_scope
from telephonist.consumers.message import AsyncMessage
from telephonist.core.memory import InMemoryChannelLayer

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

CONNECT = {
    "type": "websocket.connect",
    "http_version": "1.1",
    "scheme": "ws",
    "path": "/ws/chat/lobby/",
    "raw_path": b"/ws/chat/lobby/",
    "query_string": b"",
    "root_path": "",
    "headers": [[b"host", b"example.com"], [b"origin", b"http://example.com"]],
    "client": ["10.0.0.1", 5000],
    "server": ["10.0.0.2", 80],
    "subprotocols": [],
}
REQUEST = {
    **{k: v for k, v in CONNECT.items() if k not in ("type", "subprotocols")},
    "type": "http.request",
    "scheme": "http",
    "method": "GET",
    "path": "/page/",
    "body": b"",
    "more_body": False,
}


class Harness:
    def __init__(self, app: Any, **limits: float) -> None:
        self.layer = InMemoryChannelLayer()
        self.host = AsgiApplicationConsumer(app)
        for name, value in limits.items():
            setattr(self.host, name, value)
        self.reply = ""
        self.task: asyncio.Task[None] | None = None

    async def open(self, first: dict[str, Any]) -> None:
        self.reply = await self.layer.new_channel("srv.test.")
        await self.event(first)
        self.task = self.host.instance(self.reply)

    async def event(self, content: dict[str, Any]) -> None:
        message = {**content, "reply_channel": self.reply, "user": "10.0.0.1:5000"}
        await self.host(AsyncMessage(message, str(content["type"]), self.layer))

    async def replies(self, n: int) -> list[dict[str, Any]]:
        async with asyncio.timeout(5):
            return [await self.layer.receive(self.reply) for _ in range(n)]

    async def gone(self) -> None:
        """Until the instance has returned (bounded)."""
        if self.task is not None:
            await asyncio.wait_for(asyncio.shield(self.task), 5)
        assert self.host.instance(self.reply) is None


def test_scope_is_what_an_asgi_server_gives() -> None:
    scope = asgi_scope(CONNECT)
    assert scope["type"] == "websocket"
    assert scope["asgi"]["version"] == "3.0"
    assert scope["headers"] == [(b"host", b"example.com"), (b"origin", b"http://example.com")]
    assert scope["client"] == ("10.0.0.1", 5000)
    assert scope["server"] == ("10.0.0.2", 80)
    assert scope["path"] == "/ws/chat/lobby/"
    assert scope["subprotocols"] == []
    assert asgi_scope(REQUEST)["method"] == "GET"


def test_events_lose_the_layers_keys() -> None:
    received = {"type": "websocket.receive", "text": "hi", "user": "1.2.3.4:5", "room": "/x/"}
    assert asgi_event({**received, "reply_channel": "a!b", "order": 3}) == {
        "type": "websocket.receive",
        "text": "hi",
    }
    assert asgi_event({"type": "http.request", "order": 0}) == {
        "type": "http.request",
        "body": b"",
        "more_body": False,
    }


@given(
    st.sampled_from(["http.request", "websocket.connect"]), st.dictionaries(st.text(), st.text())
)
def test_every_opening_event_makes_a_scope(kind: str, extra: dict[str, str]) -> None:
    scope = asgi_scope({**extra, "type": kind})
    assert scope["type"] in ("http", "websocket")
    assert scope["path"].startswith("/") or "path" in extra
    assert isinstance(scope["headers"], list)


async def test_one_instance_per_connection_keeps_its_state() -> None:
    async def app(scope: Any, receive: Receive, send: Send) -> None:
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        count = 0
        while (event := await receive())["type"] == "websocket.receive":
            count += 1
            await send({"type": "websocket.send", "text": f"{count}: {event['text']}"})

    h = Harness(app)
    await h.open(CONNECT)
    await h.event({"type": "websocket.receive", "text": "a", "path": "/ws/chat/lobby/"})
    await h.event({"type": "websocket.receive", "text": "b", "path": "/ws/chat/lobby/"})
    assert [r.get("text") for r in await h.replies(3)] == [None, "1: a", "2: b"]
    await h.event({"type": "websocket.disconnect", "code": 1000})
    await h.gone()
    assert h.host.counters["instances"] == 1


async def test_an_exception_before_the_accept_refuses_the_handshake() -> None:
    async def app(scope: Any, receive: Receive, send: Send) -> None:
        raise RuntimeError("broken")

    h = Harness(app)
    await h.open(CONNECT)
    assert await h.replies(1) == [{"type": "websocket.close", "code": 1011}]
    await h.gone()
    assert h.host.counters["app_errors"] == 1
    # The connection's next events find no instance: dropped and counted, no error.
    await h.event({"type": "websocket.receive", "text": "late"})
    assert h.host.counters["events_after_end"] == 1


async def test_an_http_app_that_fails_answers_500() -> None:
    async def app(scope: Any, receive: Receive, send: Send) -> None:
        await receive()
        raise ValueError("bad view")

    h = Harness(app)
    await h.open(REQUEST)
    start, body = await h.replies(2)
    assert start["status"] == 500
    assert body == {"type": "http.response.body", "body": b"Internal Server Error"}


async def test_an_app_returning_with_the_socket_open_closes_it() -> None:
    async def app(scope: Any, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})

    h = Harness(app)
    await h.open(CONNECT)
    assert await h.replies(2) == [
        {"type": "websocket.accept"},
        {"type": "websocket.close", "code": 1000},
    ]


async def test_an_app_that_stops_reading_is_closed_with_1013() -> None:
    stuck = asyncio.Event()

    async def app(scope: Any, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await stuck.wait()  # never reads again

    h = Harness(app, queue_limit=1, queue_timeout=0.05, close_timeout=0.05)
    h.host.queue_limit = 1
    await h.open(CONNECT)
    assert await h.replies(1) == [{"type": "websocket.accept"}]
    await h.event({"type": "websocket.receive", "text": "fills the queue"})
    await h.event({"type": "websocket.receive", "text": "waits, then gives up"})
    assert await h.replies(1) == [{"type": "websocket.close", "code": 1013}]
    assert h.host.counters["events_dropped_app_stalled"] == 1
    await h.gone()  # cancelled close_timeout after the close


@pytest.mark.parametrize("kind", ["websocket", "http"])
async def test_a_lost_server_ends_the_instance_with_a_disconnect(kind: str) -> None:
    seen: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Receive, send: Send) -> None:
        while True:
            event = await receive()
            seen.append(event)
            if event["type"].endswith("disconnect"):
                return

    h = Harness(app)
    await h.open(CONNECT if kind == "websocket" else REQUEST)
    h.host.release(h.reply)
    await h.gone()
    assert seen[-1]["type"] == f"{kind}.disconnect"


async def test_an_app_that_ignores_the_disconnect_is_cancelled() -> None:
    async def app(scope: Any, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await asyncio.Event().wait()

    h = Harness(app, close_timeout=0.05)
    await h.open(CONNECT)
    await h.event({"type": "websocket.disconnect", "code": 1001})
    await h.gone()
    assert h.host.counters["instances_cancelled"] == 1


async def test_drain_ends_every_instance_while_the_layer_is_open() -> None:
    """The worker's shut-down: instances get a disconnect (1001) and run their
    ``disconnect()`` (here, a layer call) before the layer closes; a stuck one is
    cancelled after the drain's time."""
    said: list[int] = []

    async def polite(scope: Any, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        event = await receive()
        said.append(event["code"])

    h = Harness(polite)
    await h.open(CONNECT)
    other = await h.layer.new_channel("srv.test.")
    await h.host(AsyncMessage({**CONNECT, "reply_channel": other}, "websocket.connect", h.layer))
    await h.replies(1)
    await h.host.drain(within=5)
    assert said == [1001, 1001]
    assert len(h.host) == 0

    async def stuck(scope: Any, receive: Receive, send: Send) -> None:
        await asyncio.Event().wait()

    h = Harness(stuck)
    await h.open(CONNECT)
    await h.host.drain(within=0.05)
    assert h.host.instance(h.reply) is None


async def test_a_body_in_several_messages_reaches_the_app_in_order() -> None:
    async def app(scope: Any, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            event = await receive()
            body += event["body"]
            if not event["more_body"]:
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    h = Harness(app)
    await h.open({**REQUEST, "method": "POST", "body": b"one,", "more_body": True})
    await h.event({"type": "http.request", "body": b"two,", "more_body": True})
    await h.event({"type": "http.request", "body": b"three"})
    start, body = await h.replies(2)
    assert start["status"] == 200
    assert body["body"] == b"one,two,three"
    await h.gone()


async def test_body_after_an_early_answer_starts_no_new_instance() -> None:
    """An app may answer (413, say) before the body is in and return; the body's later
    messages are the same request, not new ones."""

    async def app(scope: Any, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 413, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    h = Harness(app)
    await h.open({**REQUEST, "method": "POST", "body": b"x" * 10, "more_body": True, "order": 0})
    assert (await h.replies(2))[0]["status"] == 413
    await h.gone()
    await h.event({"type": "http.request", "body": b"y" * 10, "order": 1})
    assert h.host.counters["instances"] == 1
    assert h.host.counters["events_after_end"] == 1

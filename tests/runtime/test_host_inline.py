"""Reply channels whose handler is a plain function: called where the layer delivers
(``server/replies.py``, "Inline delivery"), with every guarantee of the runner kept, on
the in-memory layer and over a real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from telephonist.core.codec import Content
from telephonist.core.memory import InMemoryChannelLayer
from telephonist.interfaces.base import ABORT
from telephonist.server import InterfaceServer

from .probe import PROBES, configured

WITHIN = 5.0


class Plain:
    """A handler that never waits, as the WebSocket's."""

    def __init__(self) -> None:
        self.messages: list[Content] = []
        self.running = False
        self.then: Any = None  # called inside the handler, once
        self.arrived = asyncio.Event()

    def __call__(self, message: Content) -> None:
        assert not self.running, "a handler ran concurrently with itself"
        self.running = True
        try:
            self.messages.append(message)
            self.arrived.set()
            then, self.then = self.then, None
            if then is not None:
                then()
        finally:
            self.running = False

    async def wait_for(self, count: int) -> list[Content]:
        async with asyncio.timeout(WITHIN):
            while len(self.messages) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.messages


@pytest.fixture(params=["memory", "redis"])
async def host(request: pytest.FixtureRequest) -> AsyncIterator[InterfaceServer]:
    PROBES.clear()
    if request.param == "memory":
        layer: Any = InMemoryChannelLayer()
    else:
        from telephonist.core.redis import RedisChannelLayer

        server = request.getfixturevalue("redis_server")
        layer = RedisChannelLayer(hosts=[server.url], prefix=f"inline{id(request)}")
    server_ = InterfaceServer(layer, [configured()])
    await server_.start()
    yield server_
    await server_.stop(drain_timeout=0)
    await layer.flush()
    await layer.close()


async def test_a_broadcast_reaches_every_plain_handler_in_order(host: InterfaceServer) -> None:
    view = PROBES[0].host
    handlers = [Plain() for _ in range(50)]
    channels = [await view.open_reply_channel(h, prefix="ws") for h in handlers]
    for channel in channels:
        await host.layer.group_add("room", channel)
    for n in range(3):
        await host.layer.group_send("room", {"type": "websocket.send", "n": n})
    await host.layer.send(channels[0], {"type": "websocket.send", "n": 3})
    for handler in handlers:
        await handler.wait_for(3)
    assert [m["n"] for m in handlers[0].messages] == [0, 1, 2, 3]
    assert all([m["n"] for m in h.messages] == [0, 1, 2] for h in handlers[1:])
    runner = host.replies._runners[channels[0]]
    assert runner.listening is not None  # still served inline


async def test_memory_layer_calls_the_handler_before_group_send_returns() -> None:
    PROBES.clear()
    host = InterfaceServer(InMemoryChannelLayer(), [configured()])
    await host.start()
    try:
        handler = Plain()
        channel = await PROBES[0].host.open_reply_channel(handler, prefix="ws")
        await host.layer.group_add("room", channel)
        await asyncio.sleep(0)  # the runner parks on the layer (its first step)
        await host.layer.group_send("room", {"type": "websocket.send"})
        assert len(handler.messages) == 1  # no task had to run for it
    finally:
        await host.stop(drain_timeout=0)


async def test_abort_comes_after_the_call_in_progress(host: InterfaceServer) -> None:
    view = PROBES[0].host
    handler = Plain()
    channel = await view.open_reply_channel(handler, prefix="ws")
    handler.then = lambda: host.replies.abort(channel, "worker gone")
    await host.layer.send(channel, {"type": "websocket.send", "n": 1})
    await handler.wait_for(2)
    assert [m["type"] for m in handler.messages] == ["websocket.send", ABORT]
    await host.layer.send(channel, {"type": "websocket.send", "n": 2})
    assert [m.get("n") for m in await handler.wait_for(3)] == [1, None, 2]


async def test_a_channel_closed_mid_broadcast_gets_nothing_more(host: InterfaceServer) -> None:
    view = PROBES[0].host
    first, second = Plain(), Plain()
    a = await view.open_reply_channel(first, prefix="ws")
    b = await view.open_reply_channel(second, prefix="ws")
    first.then = lambda: view.close_reply_channel(b)  # as a socket closing would
    await host.layer.group_add("room", a)
    await host.layer.group_add("room", b)
    await host.layer.group_send("room", {"type": "websocket.send"})
    await first.wait_for(1)
    await host.layer.send(a, {"type": "websocket.send"})
    await first.wait_for(2)
    assert second.messages == []
    assert b not in host.replies


async def test_a_plain_looking_handler_that_returns_a_coroutine(host: InterfaceServer) -> None:
    view = PROBES[0].host
    got: list[int] = []
    gate, done = asyncio.Event(), asyncio.Event()

    async def handle(message: Content) -> None:
        await gate.wait()
        got.append(message["n"])
        if len(got) == 5:
            done.set()

    channel = await view.open_reply_channel(lambda m: handle(m), prefix="ws")
    runner = host.replies._runners[channel]
    for _ in range(100):  # a few loop turns: the runner's first steps park it on the layer
        if runner.ready:
            break
        await asyncio.sleep(0)
    assert runner.ready  # so the first send is called inline
    for n in range(5):
        await host.layer.send(channel, {"type": "websocket.send", "n": n})
    gate.set()
    await asyncio.wait_for(done.wait(), WITHIN)
    assert got == [0, 1, 2, 3, 4]
    assert runner.listening is None  # it returned a coroutine: the ordinary path now

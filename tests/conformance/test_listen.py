"""The ``listen`` extension (``core/listeners.py``), on every Telephonist backend.

A listener takes a process-specific channel's messages where the layer delivers them,
but only when that reorders nothing: whatever it is not ready for is queued and
received in order, as without it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from telephonist.core.codec import Content
from telephonist.core.layers import BaseChannelLayer, InMemoryChannelLayer
from telephonist.core.listeners import supports_listen

DEADLINE = 5.0


class Recorder:
    def __init__(self, ready: bool = True, fail: bool = False) -> None:
        self.ready = ready
        self.fail = fail
        self.got: list[Content] = []
        self.arrived = asyncio.Event()

    def __call__(self, message: Content) -> None:
        self.got.append(message)
        self.arrived.set()
        if self.fail:
            raise RuntimeError("listener bug")


@pytest.fixture(params=["memory", "redis", "redis-cluster"])
async def layer(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    if request.param == "memory":
        made: BaseChannelLayer = InMemoryChannelLayer()
    else:
        made = request.getfixturevalue(f"{request.param.replace('-', '_')}_layer_factory")()
    yield made
    await made.flush()
    await made.close()


async def _until(condition: Any, *listeners: Recorder) -> None:
    """Redis delivers when its inbox reader files the pop: wait for it, bounded."""
    async with asyncio.timeout(DEADLINE):
        while not condition():
            for listener in listeners:
                listener.arrived.clear()
            await asyncio.wait(
                [asyncio.ensure_future(r.arrived.wait()) for r in listeners],
                return_when=asyncio.FIRST_COMPLETED,
            )


async def test_a_ready_listener_takes_sends_and_group_sends(layer: Any) -> None:
    assert supports_listen(layer)
    a, b = await layer.new_channel(), await layer.new_channel()
    first, second = Recorder(), Recorder()
    assert layer.listen(a, first)
    assert layer.listen(b, second)
    await layer.group_add("room", a)
    await layer.group_add("room", b)
    await layer.send(a, {"type": "one"})
    await layer.group_send("room", {"type": "all", "list": [1]})
    await _until(lambda: len(first.got) == 2 and len(second.got) == 1, first, second)
    assert [m["type"] for m in first.got] == ["one", "all"]
    first.got[1]["list"].append(2)  # each member its own copy
    assert second.got == [{"type": "all", "list": [1]}]
    assert layer.traffic.received >= 3


async def test_what_a_listener_is_not_ready_for_is_received_in_order(layer: Any) -> None:
    channel = await layer.new_channel()
    listener = Recorder(ready=False)
    layer.listen(channel, listener)
    await layer.send(channel, {"type": "m", "n": 1})
    listener.ready = True  # the next one must still queue behind the first
    await layer.send(channel, {"type": "m", "n": 2})
    got: list[Content] = []
    async with asyncio.timeout(DEADLINE):
        while len(got) < 2:
            got += await layer.receive_many(channel, 10)
    assert [m["n"] for m in got] == [1, 2]
    assert listener.got == []
    await layer.send(channel, {"type": "m", "n": 3})  # nothing queued now: it listens
    await _until(lambda: len(listener.got) == 1, listener)


class ReadyFromTheSecond(Recorder):
    """Not ready for the first message it is asked about, ready for every later one."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = 0

    @property  # type: ignore[override]
    def ready(self) -> bool:
        self.asked += 1
        return self.asked > 1

    @ready.setter
    def ready(self, value: bool) -> None:
        pass


async def test_a_receive_holding_a_message_keeps_the_next_from_the_listener(
    layer: Any,
) -> None:
    """A receive handed a message returns it before anything after it is taken: the
    next message, delivered before the receiver ran, is queued, not given to the now
    ready listener (which would then see it first)."""
    channel = await layer.new_channel()
    listener = ReadyFromTheSecond()
    layer.listen(channel, listener)
    receiving = asyncio.create_task(layer.receive(channel))
    await asyncio.sleep(0)  # the receive waits
    await layer.send_many([(channel, {"type": "m", "n": 1}), (channel, {"type": "m", "n": 2})])
    async with asyncio.timeout(DEADLINE):
        assert (await receiving)["n"] == 1
        assert (await layer.receive(channel))["n"] == 2
    assert listener.got == []


async def test_unlisten_and_a_failing_listener(layer: Any) -> None:
    a, b = await layer.new_channel(), await layer.new_channel()
    failing, gone = Recorder(fail=True), Recorder()
    layer.listen(a, failing)
    layer.listen(b, gone)
    layer.unlisten(b, gone)
    await layer.group_add("g", a)
    await layer.group_add("g", b)
    await layer.group_send("g", {"type": "x"})  # the listener's error is not the sender's
    await _until(lambda: len(failing.got) == 1, failing)
    async with asyncio.timeout(DEADLINE):
        assert await layer.receive(b) == {"type": "x"}
    assert gone.got == []


async def test_listen_refuses_another_process_channel(layer: Any) -> None:
    other = InMemoryChannelLayer() if not isinstance(layer, InMemoryChannelLayer) else None
    name = await (other or InMemoryChannelLayer()).new_channel()
    with pytest.raises(Exception, match="process"):
        layer.listen(name, Recorder())

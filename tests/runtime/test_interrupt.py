"""``http.disconnect`` overtaking a busy connection in a real worker on the in-memory
layer: only a consumer that opted in is interrupted (cancelled, or told), the runner
absorbs that one cancellation and delivers the disconnect after it, in order, once; a
worker stopping still cancels for good."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import pytest

from telephonist.consumers import AsyncConsumer, Message
from telephonist.consumers.interrupt import interrupt, interruptible
from telephonist.core.memory import InMemoryChannelLayer
from telephonist.routing import Router, route, route_class
from telephonist.worker import Worker

WITHIN = 5.0
CONN = "srv.aaaaaa.bbbbbbbbbbbb!probe.1"


class Seen:
    """What the consumers saw, with an event to wait on each change (no sleeps)."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.changed = asyncio.Event()
        self.release = asyncio.Event()  # lets a waiting consumer finish normally

    def add(self, entry: str) -> None:
        self.log.append(entry)
        self.changed.set()

    async def until(self, entry: str) -> None:
        async with asyncio.timeout(WITHIN):
            while entry not in self.log:
                self.changed.clear()
                await self.changed.wait()


SEEN: list[Seen] = []


async def _wait(message: Message) -> None:
    seen = SEEN[0]
    seen.add("started")
    try:
        await seen.release.wait()
    except asyncio.CancelledError:
        seen.add("cancelled")
        raise
    seen.add("returned")


async def opted_in(message: Message) -> None:
    await _wait(message)


opted_in.interruptible = True  # type: ignore[attr-defined]


async def not_opted_in(message: Message) -> None:
    await _wait(message)


async def swallows(message: Message) -> None:
    """Opted in, but catches the cancellation and answers anyway (as a view may)."""
    try:
        await _wait(message)
    except asyncio.CancelledError:
        seen = SEEN[0]
        await asyncio.sleep(0)  # the task is usable: its cancellation was its own
        seen.add("answered anyway")


swallows.interruptible = True  # type: ignore[attr-defined]


async def told(message: Message) -> None:
    """Opted in with a callback: nothing is cancelled, the consumer stops itself."""
    seen = SEEN[0]
    stop = asyncio.Event()
    with interruptible(stop.set) as entry:
        seen.add("started")
        await stop.wait()
    seen.add(f"told interrupted={entry.interrupted}")


class ClassConsumer(AsyncConsumer):
    channels: ClassVar[tuple[str, ...]] = ("probe.class",)
    interruptible = True

    async def probe_class(self, message: Message) -> None:
        await _wait(message)


async def on_disconnect(message: Message) -> None:
    SEEN[0].add(f"disconnect {message['order']}")


async def after(message: Message) -> None:
    await asyncio.sleep(0)
    SEEN[0].add(f"after {message['order']}")


ROUTES = [
    route("probe.opted", opted_in),
    route("probe.plain", not_opted_in),
    route("probe.swallows", swallows),
    route("probe.told", told),
    route_class(ClassConsumer),
    route("http.disconnect", on_disconnect),
    route("probe.after", after),
]


@pytest.fixture
async def worker() -> AsyncIterator[tuple[Worker, Seen]]:
    SEEN[:] = [Seen()]
    layer = InMemoryChannelLayer()
    w = Worker(layer, Router(ROUTES))
    await w.start()
    yield w, SEEN[0]
    await w.stop(drain_timeout=1.0)


async def _send(w: Worker, channel: str, order: int, **extra: Any) -> None:
    # Detached: the worker binds nothing, as for a request in one message.
    message = {"reply_channel": CONN, "order": order, "telephonist.detached": True}
    await w.layer.send(channel, {"type": channel, **message, **extra})


@pytest.mark.parametrize("channel", ["probe.opted", "probe.class"])
async def test_an_opted_in_consumer_is_cancelled_then_gets_the_disconnect_once(
    worker: tuple[Worker, Seen], channel: str
) -> None:
    w, seen = worker
    await _send(w, channel, 0)
    await seen.until("started")
    await _send(w, "http.disconnect", 1)
    await _send(w, "probe.after", 2)  # the runner carries on after the interruption
    await seen.until("after 2")
    assert seen.log == ["started", "cancelled", "disconnect 1", "after 2"]
    assert w.counters["interrupted"] == 1
    assert w.counters["overtaking"] == 1


async def test_a_consumer_that_did_not_opt_in_runs_to_its_end(
    worker: tuple[Worker, Seen],
) -> None:
    w, seen = worker
    await _send(w, "probe.plain", 0)
    await seen.until("started")
    await _send(w, "http.disconnect", 1)
    await _send(w, "probe.after", 2)
    assert seen.log == ["started"]  # the disconnect waits its turn
    seen.release.set()
    await seen.until("after 2")
    assert seen.log == ["started", "returned", "disconnect 1", "after 2"]
    assert w.counters["overtaking"] == 1
    assert w.counters["interrupted"] == 0


async def test_a_consumer_that_swallows_its_cancellation_leaves_a_usable_runner(
    worker: tuple[Worker, Seen],
) -> None:
    w, seen = worker
    await _send(w, "probe.swallows", 0)
    await seen.until("started")
    await _send(w, "http.disconnect", 1)
    await _send(w, "probe.after", 2)  # awaits: would raise if the cancel were left over
    await seen.until("after 2")
    assert seen.log == ["started", "cancelled", "answered anyway", "disconnect 1", "after 2"]


async def test_a_consumer_with_a_callback_is_told_not_cancelled(
    worker: tuple[Worker, Seen],
) -> None:
    w, seen = worker
    await _send(w, "probe.told", 0)
    await seen.until("started")
    await _send(w, "http.disconnect", 1)
    await seen.until("disconnect 1")
    assert seen.log == ["started", "told interrupted=True", "disconnect 1"]
    assert w.counters["interrupted"] == 1


async def test_the_worker_stopping_still_cancels_an_interrupted_runner(
    worker: tuple[Worker, Seen],
) -> None:
    """Interrupted and stopped at once, and the consumer swallows its CancelledError:
    the stop still ends the runner, the events behind are not run."""
    w, seen = worker
    await _send(w, "probe.swallows", 0)
    await seen.until("started")
    connections = w._connections
    assert connections is not None
    after = {"type": "probe.after", "reply_channel": CONN, "order": 2}
    connections.enqueue(CONN, "http.disconnect", {"type": "http.disconnect", "order": 1})
    connections.enqueue(CONN, "probe.after", after)
    runner = connections._cancelled[CONN]  # the interruption cancelled the runner
    runner.cancel()  # and so does a stop, before the runner could run again
    async with asyncio.timeout(WITHIN):
        await asyncio.wait([runner])
    assert runner.cancelled()
    assert seen.log == ["started", "cancelled", "answered anyway"]


def test_outside_a_worker_nothing_can_interrupt() -> None:
    with interruptible() as entry:
        assert entry.connection is None
    assert interrupt("nobody!") is None

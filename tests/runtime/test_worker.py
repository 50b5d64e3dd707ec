"""The worker in one process: consumers, limits, failures, channel selection, stopping,
and the worker side of affinity against a scripted host."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from telephonist.affinity import control
from telephonist.config import AffinitySettings, WorkerSettings
from telephonist.consumers import Message
from telephonist.core.memory import InMemoryChannelLayer
from telephonist.core.names import non_local_name
from telephonist.lifespan import Lifespan
from telephonist.routing import Router, route
from telephonist.worker import Worker, connection_released, select_channels

WITHIN = 5.0


class Probe:
    """Counts consumers running at once; each waits for ``gate`` before finishing."""

    def __init__(self) -> None:
        self.running = 0
        self.peak = 0
        self.done: list[Any] = []
        self.finished = asyncio.Event()
        self.gate = asyncio.Event()
        self.thread_gate = threading.Event()
        self.threads: set[str] = set()
        self.lock = threading.Lock()

    def enter(self) -> None:
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        LOOP[0].call_soon_threadsafe(self.finished.set)  # from a pool thread too

    def leave(self, value: Any) -> None:
        with self.lock:
            self.running -= 1
            self.done.append(value)
        LOOP[0].call_soon_threadsafe(self.finished.set)

    async def until(self, predicate: Callable[[], bool]) -> None:
        """Wait, bounded, until ``predicate()`` holds; woken by every enter/leave."""
        async with asyncio.timeout(WITHIN):
            while not predicate():
                self.finished.clear()
                await self.finished.wait()

    async def wait_done(self, count: int) -> None:
        await self.until(lambda: len(self.done) >= count)


PROBE = Probe()
HOOKS: list[str] = []


async def slow_async(message: Message) -> None:
    PROBE.enter()
    await PROBE.gate.wait()
    PROBE.leave(message["n"])


def slow_sync(message: Message) -> None:
    PROBE.threads.add(threading.current_thread().name)
    PROBE.enter()
    PROBE.thread_gate.wait(WITHIN)
    PROBE.leave(message["n"])


def failing(message: Message) -> None:
    PROBE.enter()
    PROBE.leave("failed")
    raise RuntimeError("bad consumer")


LOOP: list[asyncio.AbstractEventLoop] = []


class ObservedWorker(Worker):
    """Wakes the test each time a message has been fully handled (outcome counted)."""

    settled: asyncio.Event

    async def _dispatch(self, channel: str, message: dict[str, Any]) -> None:
        await super()._dispatch(channel, message)
        self.settled.set()

    async def until(self, predicate: Callable[[], bool]) -> None:
        async with asyncio.timeout(WITHIN):
            while not predicate():
                self.settled.clear()
                await self.settled.wait()


def _observed(*args: Any, **kwargs: Any) -> ObservedWorker:
    worker = ObservedWorker(*args, **kwargs)
    worker.settled = asyncio.Event()
    return worker


def hook(lifespan: Lifespan) -> None:
    HOOKS.append(f"{lifespan.process}.{lifespan.phase}")


ROUTES = [
    route("work.async", slow_async),
    route("work.sync", slow_sync),
    route("work.fail", failing),
]


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    global PROBE
    PROBE = Probe()
    HOOKS.clear()
    yield
    PROBE.thread_gate.set()  # never leave a pool thread blocked


@pytest.fixture(autouse=True)
async def layer() -> InMemoryChannelLayer:
    LOOP[:] = [asyncio.get_running_loop()]
    return InMemoryChannelLayer(capacity=1000)


@pytest.fixture
async def worker(layer: InMemoryChannelLayer) -> AsyncIterator[ObservedWorker]:
    w = _observed(layer, Router(ROUTES), WorkerSettings(concurrency=3, threads=2))
    await w.start()
    yield w
    PROBE.gate.set()
    PROBE.thread_gate.set()
    await w.stop(drain_timeout=1)


async def test_async_consumers_are_limited_by_concurrency(
    layer: InMemoryChannelLayer, worker: Worker
) -> None:
    for n in range(7):
        await layer.send("work.async", {"type": "work", "n": n})
    await PROBE.until(lambda: PROBE.running == 3)
    for _ in range(20):
        await asyncio.sleep(0)  # more turns: nobody else may start
    assert PROBE.running == 3
    PROBE.gate.set()
    await PROBE.wait_done(7)
    assert PROBE.peak == 3
    assert sorted(PROBE.done) == list(range(7))


async def test_sync_consumers_run_in_the_bounded_thread_pool(
    layer: InMemoryChannelLayer, worker: Worker
) -> None:
    for n in range(4):
        await layer.send("work.sync", {"type": "work", "n": n})
    await PROBE.until(lambda: PROBE.running == 2)
    PROBE.thread_gate.set()
    await PROBE.wait_done(4)
    assert PROBE.peak == 2  # two threads, although concurrency allows three
    assert all(name.startswith("telephonist-sync") for name in PROBE.threads)


async def test_a_failing_consumer_does_not_stop_the_worker(
    layer: InMemoryChannelLayer, worker: ObservedWorker
) -> None:
    await layer.send("work.fail", {"type": "work"})
    await layer.send("work.async", {"type": "work", "n": 1})
    PROBE.gate.set()
    await worker.until(lambda: worker.status()["counters"] == {"error": 1, "consumed": 1})
    assert sorted(PROBE.done, key=str) == [1, "failed"]


async def test_stop_lets_work_in_flight_finish(layer: InMemoryChannelLayer) -> None:
    here = __name__
    w = Worker(
        layer,
        Router(ROUTES),
        WorkerSettings(on_startup=[f"{here}.hook"], on_shutdown=[f"{here}.hook"]),
    )
    await w.start()
    await layer.send("work.async", {"type": "work", "n": 1})
    await PROBE.until(lambda: PROBE.running == 1)
    stopping = asyncio.ensure_future(w.stop(drain_timeout=WITHIN))
    await asyncio.sleep(0)
    assert not stopping.done()
    PROBE.gate.set()
    await asyncio.wait_for(stopping, WITHIN)
    assert PROBE.done == [1]
    assert HOOKS == ["worker.startup", "worker.shutdown"]


async def test_stop_is_bounded_when_a_consumer_hangs(layer: InMemoryChannelLayer) -> None:
    w = Worker(layer, Router(ROUTES))
    await w.start()
    await layer.send("work.async", {"type": "work", "n": 1})
    await PROBE.until(lambda: PROBE.running == 1)
    loop = asyncio.get_running_loop()
    began = loop.time()
    await asyncio.wait_for(w.stop(drain_timeout=0.2), WITHIN)
    assert loop.time() - began < 2
    assert PROBE.done == []  # cancelled, not finished


def test_only_and_exclude_select_shared_channels() -> None:
    names = ["http.request", "linechat.connect", "linechat.message", "work.async"]
    assert select_channels(names) == sorted(names)
    assert select_channels(names, only=["linechat.*"]) == ["linechat.connect", "linechat.message"]
    assert select_channels(names, exclude=["linechat.*", "http.*"]) == ["work.async"]
    assert select_channels(names, only=["linechat.*"], exclude=["*.connect"]) == [
        "linechat.message"
    ]


async def test_a_worker_with_nothing_to_listen_to_refuses_to_start() -> None:
    w = Worker(InMemoryChannelLayer(), Router(ROUTES), WorkerSettings(only=["nothing.*"]))
    with pytest.raises(ValueError, match="no channel to listen on"):
        await w.start()


async def test_interface_event_channels_are_taken_even_without_a_route(
    layer: InMemoryChannelLayer,
) -> None:
    w = _observed(layer, Router(ROUTES), extra_channels=["chat.connect"])
    assert "chat.connect" in w.channels
    await w.start()
    try:
        await layer.send("chat.connect", {"type": "chat.connect"})
        await w.until(lambda: w.status()["counters"] == {"unrouted": 1})
    finally:
        await w.stop(drain_timeout=0)


# -- the worker side of affinity, against a scripted host ---------------------------


@pytest.fixture
async def scripted_host(layer: InMemoryChannelLayer) -> str:
    """The scripted host's prefix: made by the layer, which reads only its own."""
    return non_local_name(await layer.new_channel("srv.aaaaaa."))


async def test_worker_binds_heartbeats_and_drops_a_silent_host(
    layer: InMemoryChannelLayer, scripted_host: str
) -> None:
    conn = scripted_host + "chat.1"
    released: list[tuple[str, str]] = []
    gone = asyncio.Event()

    def on_release(connection: str, reason: str, **kwargs: Any) -> None:
        released.append((connection, reason))
        gone.set()

    routes = [route("chat.connect", slow_async)]
    affinity = AffinitySettings(heartbeat_interval=0.1, heartbeat_misses=2)
    w = Worker(layer, Router(routes), affinity=affinity)
    await w.start()
    connection_released.connect(on_release)
    try:
        PROBE.gate.set()
        await layer.send(
            "chat.connect", {"type": "chat.connect", "n": 0, "reply_channel": conn, "order": 0}
        )
        bind = await asyncio.wait_for(layer.receive(scripted_host + "control"), WITHIN)
        assert bind == control.bind(conn, w.prefix, 0.1)
        beat = await asyncio.wait_for(layer.receive(scripted_host + "control"), WITHIN)
        assert beat == control.heartbeat(w.prefix, 0.1)
        await layer.send(w.inbox, control.ack(scripted_host, []))  # one ack, then silence
        await asyncio.wait_for(gone.wait(), WITHIN)
        assert released == [(conn, "host lost")]
    finally:
        connection_released.disconnect(on_release)
        await w.stop(drain_timeout=0)


async def test_release_drops_state_after_the_connection_s_last_event(
    layer: InMemoryChannelLayer,
    scripted_host: str,
) -> None:
    conn = scripted_host + "chat.1"
    released = asyncio.Event()

    def on_release(connection: str, reason: str, **kwargs: Any) -> None:
        assert PROBE.done == [0, 1]  # every event before the release was consumed
        released.set()

    w = Worker(layer, Router([route(["chat.connect", "chat.data"], slow_async)]))
    await w.start()
    connection_released.connect(on_release)
    try:
        await layer.send("chat.connect", {"type": "c", "n": 0, "reply_channel": conn, "order": 0})
        await layer.send(
            w.inbox, control.event("chat.data", {"n": 1, "reply_channel": conn, "order": 1})
        )
        await layer.send(w.inbox, control.release(conn))
        PROBE.gate.set()
        await asyncio.wait_for(released.wait(), WITHIN)
    finally:
        connection_released.disconnect(on_release)
        await w.stop(drain_timeout=0)


async def test_a_stopping_worker_tells_its_hosts(
    layer: InMemoryChannelLayer, scripted_host: str
) -> None:
    conn = scripted_host + "chat.1"
    w = Worker(layer, Router([route("chat.connect", slow_async)]))
    await w.start()
    PROBE.gate.set()
    await layer.send("chat.connect", {"type": "c", "n": 0, "reply_channel": conn, "order": 0})
    assert (await asyncio.wait_for(layer.receive(scripted_host + "control"), WITHIN))[
        "type"
    ] == control.BIND
    await PROBE.wait_done(1)
    await w.stop(drain_timeout=1)
    assert await asyncio.wait_for(layer.receive(scripted_host + "control"), WITHIN) == control.gone(
        w.prefix
    )

"""Connection affinity in one process: the protocol step by step against a scripted
worker, then the real host and two real workers on the in-memory layer."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from telephonist.affinity import control
from telephonist.config import AffinitySettings, WorkerSettings
from telephonist.consumers import Message as ConsumerMessage
from telephonist.core.codec import Content
from telephonist.core.exceptions import ChannelFull
from telephonist.core.memory import InMemoryChannelLayer
from telephonist.core.names import non_local_name
from telephonist.interfaces.base import ABORT, InterfaceHost
from telephonist.routing import Router, route
from telephonist.server import InterfaceServer
from telephonist.worker import Worker, connection_released

from .probe import PROBES, Recorder, configured

WITHIN = 5.0


@pytest.fixture
def settings() -> AffinitySettings:
    return AffinitySettings(
        heartbeat_interval=0.2, heartbeat_misses=2, bind_timeout=0.3, pending_limit=3
    )


@pytest.fixture
async def host(settings: AffinitySettings) -> AsyncIterator[InterfaceServer]:
    PROBES.clear()
    server = InterfaceServer(InMemoryChannelLayer(), [configured()], affinity=settings)
    await server.start()
    yield server
    await server.stop(drain_timeout=0)


@pytest.fixture
async def worker(host: InterfaceServer) -> str:
    """The prefix of the scripted worker: made by the layer, which reads only its own."""
    return non_local_name(await host.layer.new_channel("worker."))


async def _connection(host: InterfaceServer) -> tuple[InterfaceHost, str, Recorder]:
    view = PROBES[0].host
    handler = Recorder()
    return view, await view.open_reply_channel(handler, prefix="probe"), handler


async def _receive(layer: Any, channel: str) -> Content:
    message: Content = await asyncio.wait_for(layer.receive(channel), WITHIN)
    return message


def _watchdog_checks(host: InterfaceServer) -> asyncio.Event:
    """An event set each time the host's affinity watchdog has looked at its deadlines."""
    assert host.affinity is not None
    checked = asyncio.Event()
    check = host.affinity._check

    def spy(now: float) -> float:
        nearest = check(now)
        checked.set()
        return nearest

    host.affinity._check = spy  # type: ignore[method-assign]
    return checked


async def _after_watchdog_checks(host: InterfaceServer, done: Callable[[], bool]) -> None:
    checked = _watchdog_checks(host)
    async with asyncio.timeout(WITHIN):
        while not done():
            checked.clear()
            await checked.wait()


async def test_first_event_goes_to_the_shared_channel_and_later_ones_wait_for_the_bind(
    host: InterfaceServer,
    worker: str,
) -> None:
    view, conn, _ = await _connection(host)
    await view.send_event("probe.connect", {"type": "probe.connect"}, connection=conn)
    await view.send_event("probe.data", {"type": "probe.data", "n": 1}, connection=conn)
    await view.send_event("probe.data", {"type": "probe.data", "n": 2}, connection=conn)
    first = await _receive(host.layer, "probe.connect")
    assert first == {"type": "probe.connect", "reply_channel": conn, "order": 0}
    assert host.layer.depths() == {}  # the others are buffered by the host, not sent

    await host.layer.send(control.control_channel_of(conn), control.bind(conn, worker, 0.2))
    for order in (1, 2):
        envelope = await _receive(host.layer, control.inbox_of(worker))
        assert envelope["type"] == control.EVENT
        assert envelope["channel"] == "probe.data"
        assert envelope["message"]["order"] == order
    await view.send_event("probe.data", {"type": "probe.data", "n": 3}, connection=conn)
    assert (await _receive(host.layer, control.inbox_of(worker)))["message"]["order"] == 3

    view.close_reply_channel(conn)  # the release follows the last event, on the same channel
    assert await _receive(host.layer, control.inbox_of(worker)) == control.release(conn)


async def test_the_buffer_before_the_bind_is_bounded(host: InterfaceServer) -> None:
    view, conn, _ = await _connection(host)
    await view.send_event("probe.connect", {"type": "probe.connect"}, connection=conn)
    for _ in range(3):
        await view.send_event("probe.data", {"type": "probe.data"}, connection=conn)
    with pytest.raises(ChannelFull):
        await view.send_event("probe.data", {"type": "probe.data"}, connection=conn)
    assert host.counters["pending_full"] == 1


async def test_a_connection_whose_bind_never_comes_is_aborted(host: InterfaceServer) -> None:
    view, conn, handler = await _connection(host)
    await view.send_event("probe.connect", {"type": "probe.connect"}, connection=conn)
    [abort] = await handler.wait_for(1)
    assert abort == {"type": ABORT, "reason": "no worker took its first event in time"}
    assert host.counters["bind_timeout"] == 1
    await view.send_event("probe.data", {"type": "probe.data"}, connection=conn)
    assert host.counters["aborted"] == 1  # later events of an aborted connection are dropped


async def test_heartbeats_keep_a_binding_and_their_absence_aborts_it(
    host: InterfaceServer, worker: str, settings: AffinitySettings
) -> None:
    view, conn, handler = await _connection(host)
    await view.send_event("probe.connect", {"type": "probe.connect"}, connection=conn)
    control_channel = control.control_channel_of(conn)
    await host.layer.send(control_channel, control.bind(conn, worker, 0.2))
    loop = asyncio.get_running_loop()
    start = loop.time()
    for _ in range(4):  # four heartbeats span longer than the miss limit: still alive
        await host.layer.send(control_channel, control.heartbeat(worker, 0.2))
        ack = await _receive(host.layer, control.inbox_of(worker))
        assert ack["type"] == control.ACK
        assert ack["host"] == host.prefix
        await asyncio.sleep(0.1)  # the scripted worker's heartbeat period
    assert handler.messages == []
    silent_from = loop.time()
    [abort] = await handler.wait_for(1)
    assert abort["reason"] == "its worker stopped sending heartbeats"
    assert loop.time() - silent_from <= 0.2 * settings.heartbeat_misses + 0.5
    assert loop.time() - start > 0.4
    assert host.counters["worker_lost"] == 1


async def test_a_known_idle_worker_taking_a_connection_is_watched_at_once() -> None:
    """The abort bound is the heartbeat limit, not ``bind_timeout``, even when the worker
    was already known to the host without connections (here: a release its full inbox
    refused keeps its record) while the watchdog went to sleep until a bind deadline."""
    settings = AffinitySettings(heartbeat_interval=0.1, heartbeat_misses=2, bind_timeout=30)
    PROBES.clear()
    server = InterfaceServer(
        InMemoryChannelLayer(channel_capacity={"worker.*!inbox": 1}),
        [configured()],
        affinity=settings,
    )
    await server.start()
    try:
        worker = non_local_name(await server.layer.new_channel("worker."))
        view, first, _ = await _connection(server)
        await view.send_event("probe.connect", {"type": "probe.connect"}, connection=first)
        control_channel = control.control_channel_of(first)
        await server.layer.send(control_channel, control.bind(first, worker, 0.1))
        await server.layer.send(
            control.inbox_of(worker), {"type": "filler"}
        )  # the inbox is now full
        # The bind is handled once the control channel is: a status request behind it
        # on that same channel is answered after it.
        reply = await server.layer.new_channel("probe.")
        await server.layer.send(control_channel, control.status_request(reply))
        await _receive(server.layer, reply)
        view.close_reply_channel(first)  # its release is refused: the worker stays known, idle
        view, second, handler = await _connection(server)
        # The watchdog wakes for this connection's bind deadline (30 s away), finds no
        # worker holding connections, and goes back to sleep until that deadline.
        checks = _watchdog_checks(server)
        await view.send_event("probe.connect", {"type": "probe.connect"}, connection=second)
        await asyncio.wait_for(checks.wait(), WITHIN)
        loop = asyncio.get_running_loop()
        await server.layer.send(control_channel, control.bind(second, worker, 0.1))
        bound_at = loop.time()
        [abort] = await handler.wait_for(1)  # the worker never sends a heartbeat
        assert abort["reason"] == "its worker stopped sending heartbeats"
        assert loop.time() - bound_at <= 0.1 * 2 + 0.5
    finally:
        await server.stop(drain_timeout=0)


async def test_a_worker_saying_goodbye_aborts_its_connections_at_once(
    host: InterfaceServer,
    worker: str,
) -> None:
    view, conn, handler = await _connection(host)
    await view.send_event("probe.connect", {"type": "probe.connect"}, connection=conn)
    await host.layer.send(control.control_channel_of(conn), control.bind(conn, worker, 60))
    await host.layer.send(control.control_channel_of(conn), control.gone(worker))
    [abort] = await handler.wait_for(1)
    assert abort["reason"] == "its worker stopped"


async def test_a_late_or_second_bind_is_answered_with_a_release(
    host: InterfaceServer, worker: str
) -> None:
    view, conn, _ = await _connection(host)
    view.close_reply_channel(conn)
    await host.layer.send(control.control_channel_of(conn), control.bind(conn, worker, 1))
    assert await _receive(host.layer, control.inbox_of(worker)) == control.release(conn)
    assert host.counters["late_binds"] == 1


async def test_events_sent_before_close_reach_the_worker_that_binds_later(
    host: InterfaceServer,
    worker: str,
) -> None:
    """A connection closed while it waits for its bind (an HTTP client gone at once,
    its ``http.disconnect`` sent just before the close) still has its events delivered
    once the bind comes, and the release after them."""
    view, conn, _ = await _connection(host)
    await view.send_event("probe.connect", {"type": "probe.connect"}, connection=conn)
    await view.send_event("probe.data", {"type": "probe.data", "n": 1}, connection=conn)
    view.close_reply_channel(conn)
    await host.layer.send(control.control_channel_of(conn), control.bind(conn, worker, 0.2))
    envelope = await _receive(host.layer, control.inbox_of(worker))
    assert envelope["type"] == control.EVENT
    assert envelope["message"] == {"type": "probe.data", "n": 1, "reply_channel": conn, "order": 1}
    assert await _receive(host.layer, control.inbox_of(worker)) == control.release(conn)
    assert host.counters["late_binds"] == 0
    assert host.affinity is not None
    assert host.affinity.snapshot()["connections"] == {}


async def test_events_of_a_closed_connection_whose_bind_never_comes_are_counted(
    host: InterfaceServer,
    worker: str,
) -> None:
    view, conn, handler = await _connection(host)
    await view.send_event("probe.connect", {"type": "probe.connect"}, connection=conn)
    await view.send_event("probe.data", {"type": "probe.data", "n": 1}, connection=conn)
    await view.send_event("probe.data", {"type": "probe.data", "n": 2}, connection=conn)
    view.close_reply_channel(conn)
    assert host.affinity is not None
    assert host.affinity.snapshot()["connections"] == {"closing": 1}
    await _after_watchdog_checks(host, lambda: host.counters["bind_timeout"] > 0)
    assert host.counters["pending_dropped"] == 2
    assert host.affinity.snapshot()["connections"] == {}
    assert handler.messages == []  # nobody to tell: the interface closed it
    # A bind later still is a late one, answered with a release.
    await host.layer.send(control.control_channel_of(conn), control.bind(conn, worker, 1))
    assert await _receive(host.layer, control.inbox_of(worker)) == control.release(conn)
    assert host.counters["late_binds"] == 1


async def test_a_single_event_connection_is_sent_detached(host: InterfaceServer) -> None:
    view, conn, handler = await _connection(host)
    await view.send_event("probe.connect", {"type": "probe.connect"}, connection=conn, last=True)
    assert await _receive(host.layer, "probe.connect") == {
        "type": "probe.connect",
        "reply_channel": conn,
        "order": 0,
        control.DETACHED: True,
    }
    assert host.affinity is not None
    assert host.affinity.snapshot() == {"connections": {"detached": 1}, "workers": {}}
    assert host.counters["detached"] == 1
    # Something more for it after all (HTTP: http.disconnect) goes the same way.
    await view.send_event("probe.data", {"type": "probe.data"}, connection=conn)
    assert await _receive(host.layer, "probe.data") == {
        "type": "probe.data",
        "reply_channel": conn,
        "order": 1,
        control.DETACHED: True,
    }
    # No bind deadline: a connection opened after it is aborted at its bind timeout,
    # this one is not.
    _, other, other_handler = await _connection(host)
    await view.send_event("probe.connect", {"type": "probe.connect"}, connection=other)
    [abort] = await other_handler.wait_for(1)
    assert abort["type"] == ABORT
    assert handler.messages == []
    view.close_reply_channel(conn)  # no release: no worker was ever told about it
    assert host.layer.depths() == {"probe.connect": 1}  # just the other's event
    assert host.affinity.snapshot()["connections"] == {"aborted": 1}


async def test_last_on_a_later_event_keeps_affinity(host: InterfaceServer, worker: str) -> None:
    view, conn, _ = await _connection(host)
    await view.send_event("probe.connect", {"type": "probe.connect"}, connection=conn)
    await host.layer.send(control.control_channel_of(conn), control.bind(conn, worker, 0.2))
    await _receive(host.layer, "probe.connect")
    await view.send_event("probe.data", {"type": "probe.data"}, connection=conn, last=True)
    envelope = await _receive(host.layer, control.inbox_of(worker))
    assert envelope["message"] == {"type": "probe.data", "reply_channel": conn, "order": 1}
    view.close_reply_channel(conn)
    assert await _receive(host.layer, control.inbox_of(worker)) == control.release(conn)


# -- the real host and two real workers -----------------------------------------------

STATE: dict[str, list[int]] = {}
RELEASED: list[str] = []


async def _on_connect(message: ConsumerMessage) -> None:
    STATE[message["reply_channel"]] = []


async def _on_data(message: ConsumerMessage) -> None:
    seen = STATE[message["reply_channel"]]  # KeyError if another worker saw the connect
    await asyncio.sleep(random.random() * 0.002)  # would let events overtake each other
    seen.append(message["n"])
    await message.reply_channel.send({"type": "probe.ack", "n": message["n"]})  # type: ignore[union-attr]


def _sync_data(message: ConsumerMessage) -> None:
    STATE[message["reply_channel"]].append(message["n"])
    message.reply_channel.send({"type": "probe.ack", "n": message["n"]})  # type: ignore[union-attr]


@contextlib.asynccontextmanager
async def _running(
    router: Router,
    released: Callable[..., None],
    *,
    workers: int = 1,
    capacity: int = 100,
    settings: WorkerSettings | None = None,
) -> AsyncIterator[tuple[InterfaceServer, list[Worker]]]:
    """``workers`` real workers on ``router`` and a host with the probe interface, on one
    in-memory layer, with ``released`` connected to ``connection_released`` meanwhile;
    stopped on the way out (the host first, as a deployment drains)."""
    layer = InMemoryChannelLayer(capacity=capacity)
    settings = settings or WorkerSettings(concurrency=8)
    started = [Worker(layer, router, settings) for _ in range(workers)]
    host = InterfaceServer(layer, [configured()])
    connection_released.connect(released)
    for worker in started:
        await worker.start()
    await host.start()
    try:
        yield host, started
    finally:
        connection_released.disconnect(released)
        await host.stop(drain_timeout=0)
        for worker in started:
            await worker.stop(drain_timeout=1)


@pytest.mark.parametrize("consumer", [_on_data, _sync_data], ids=["async", "sync"])
async def test_every_event_of_a_connection_reaches_one_worker_in_order(consumer: Any) -> None:
    STATE.clear()
    RELEASED.clear()
    PROBES.clear()
    router = Router([route("probe.connect", _on_connect), route("probe.data", consumer)])
    all_released = asyncio.Event()

    def _released(connection: str, **kwargs: Any) -> None:
        RELEASED.append(connection)
        if len(RELEASED) == 12:
            all_released.set()

    settings = WorkerSettings(concurrency=8, threads=4)
    running = _running(router, _released, workers=2, capacity=1000, settings=settings)
    async with running as (_host, workers):
        view = PROBES[0].host

        async def converse() -> tuple[str, list[Content]]:
            handler = Recorder()
            conn = await view.open_reply_channel(handler)
            await view.send_event("probe.connect", {"type": "probe.connect"}, connection=conn)
            for n in range(30):
                await view.send_event("probe.data", {"type": "probe.data", "n": n}, connection=conn)
            acks = await handler.wait_for(30)
            view.close_reply_channel(conn)
            return conn, acks

        results = await asyncio.gather(*(converse() for _ in range(12)))
        for conn, acks in results:
            assert [a["n"] for a in acks] == list(range(30))
            assert STATE[conn] == list(range(30))
        served = [w.status()["counters"].get("consumed", 0) for w in workers]
        assert sum(served) == 12 * 31
        # Releases reach the workers after each connection's last event.
        await asyncio.wait_for(all_released.wait(), WITHIN)
        assert sorted(RELEASED) == sorted(conn for conn, _ in results)


async def test_a_connection_closed_before_any_worker_took_it_is_served_whole() -> None:
    """The real worker: connect, one more event and the close, all before the worker
    even saw the connect. Both events are consumed, then the connection is released."""
    STATE.clear()
    PROBES.clear()
    seen: list[int] = []
    released = asyncio.Event()

    async def data(message: ConsumerMessage) -> None:
        seen.append(message["n"])

    def _released(connection: str, **kwargs: Any) -> None:
        released.set()

    router = Router([route("probe.connect", _on_connect), route("probe.data", data)])
    async with _running(router, _released):
        view = PROBES[0].host
        conn = await view.open_reply_channel(Recorder())
        await view.send_event("probe.connect", {"type": "probe.connect"}, connection=conn)
        await view.send_event("probe.data", {"type": "probe.data", "n": 7}, connection=conn)
        view.close_reply_channel(conn)
        await asyncio.wait_for(released.wait(), WITHIN)
        assert seen == [7]
        assert conn in STATE


async def test_a_real_worker_runs_a_single_event_connection_without_binding_it() -> None:
    PROBES.clear()
    seen: list[Content] = []
    released: list[str] = []
    done = asyncio.Event()

    async def record(message: ConsumerMessage) -> None:
        seen.append(dict(message.content))
        if len(seen) == 2:
            done.set()

    all_released = asyncio.Event()

    def _released(connection: str, **kwargs: Any) -> None:
        released.append(connection)
        all_released.set()

    router = Router([route("probe.connect", record), route("probe.data", record)])
    async with _running(router, _released) as (host, (worker,)):
        view = PROBES[0].host
        conn = await view.open_reply_channel(Recorder())
        await view.send_event(
            "probe.connect", {"type": "probe.connect"}, connection=conn, last=True
        )
        await view.send_event("probe.data", {"type": "probe.data"}, connection=conn)
        await asyncio.wait_for(done.wait(), WITHIN)
        view.close_reply_channel(conn)
        # Consumers never see the marker; the events ran in order.
        assert seen == [
            {"type": "probe.connect", "reply_channel": conn, "order": 0},
            {"type": "probe.data", "reply_channel": conn, "order": 1},
        ]
        # No bind reached the host, and the worker keeps nothing for it (nor heartbeats).
        assert host.affinity is not None
        assert host.affinity.snapshot()["workers"] == {}
        assert worker.status()["affinity"]["hosts"] == {}
        assert worker.status()["counters"].get("unbound_events", 0) == 0
        await asyncio.wait_for(all_released.wait(), WITHIN)  # its state is dropped as usual
        assert conn in released


async def test_a_batch_of_bound_events_is_sent_in_order_and_refused_in_order(
    settings: AffinitySettings,
) -> None:
    # send_events (the IRC interface's batches): one layer call for the leading run of
    # bound connections' events; a full inbox refuses the rest of the batch, whose
    # orders go back, so the next send_event carries on without a gap.
    PROBES.clear()
    host = InterfaceServer(InMemoryChannelLayer(capacity=5), [configured()], affinity=settings)
    await host.start()
    try:
        worker = non_local_name(await host.layer.new_channel("worker."))
        inbox = control.inbox_of(worker)
        view, conn, _ = await _connection(host)
        await view.send_event("probe.connect", {"type": "probe.connect"}, connection=conn)
        await _receive(host.layer, "probe.connect")
        await host.layer.send(control.control_channel_of(conn), control.bind(conn, worker, 0.2))
        await view.send_event("probe.data", {"type": "probe.data", "n": 0}, connection=conn)
        assert (await _receive(host.layer, inbox))["message"]["order"] == 1  # bound now

        batch = [("probe.data", {"type": "probe.data", "n": n}, conn) for n in range(1, 9)]
        outcomes = await view.send_events(batch)
        assert outcomes[:5] == [None] * 5
        assert len(outcomes) == 8
        assert all(isinstance(o, ChannelFull) for o in outcomes[5:])
        got = [(await _receive(host.layer, inbox))["message"] for _ in range(5)]
        assert [(m["n"], m["order"]) for m in got] == [(n, n + 1) for n in range(1, 6)]
        await view.send_event("probe.data", {"type": "probe.data", "n": 6}, connection=conn)
        assert (await _receive(host.layer, inbox))["message"]["order"] == 7

        other = await view.open_reply_channel(Recorder(), prefix="probe")
        mixed = [
            ("probe.data", {"type": "probe.data", "n": 7}, conn),
            ("probe.connect", {"type": "probe.connect"}, other),  # not bound: stops it
            ("probe.data", {"type": "probe.data", "n": 8}, conn),
        ]
        assert await view.send_events(mixed) == [None]
        assert (await _receive(host.layer, inbox))["message"]["order"] == 8
    finally:
        await host.stop(drain_timeout=0)

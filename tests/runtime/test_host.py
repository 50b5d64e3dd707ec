"""The interface-server host in one process: reply channels, events, lifespan, stop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from telephonist.config import ConfigError, ServerSettings
from telephonist.core.codec import Content
from telephonist.core.exceptions import ChannelFull
from telephonist.core.memory import InMemoryChannelLayer
from telephonist.interfaces.plugins import ConfiguredInterface, InterfacePlugin
from telephonist.lifespan import Lifespan
from telephonist.server import InterfaceServer, StartupError

from .probe import EVENTS, PROBES, Probe, Recorder, configured

WITHIN = 5.0  # bound on every wait below; passing runs take milliseconds


def record(lifespan: Lifespan) -> None:
    EVENTS.append(f"{lifespan.process}.{lifespan.interface}.{lifespan.phase}")


async def record_async(lifespan: Lifespan) -> None:
    EVENTS.append(f"async {lifespan.phase}")


@pytest.fixture(autouse=True)
def _clean() -> None:
    PROBES.clear()
    EVENTS.clear()


@pytest.fixture
async def host() -> AsyncIterator[InterfaceServer]:
    server = InterfaceServer(InMemoryChannelLayer(capacity=5), [configured()])
    await server.start()
    yield server
    await server.stop(drain_timeout=0)


async def test_reply_channels_deliver_in_order_to_their_handler(host: InterfaceServer) -> None:
    view = PROBES[0].host
    handler = Recorder()
    channel = await view.open_reply_channel(handler, prefix="probe")
    assert channel.startswith(host.prefix + "probe.")
    for n in range(4):
        await host.layer.send(channel, {"type": "probe.send", "n": n})
    assert [m["n"] for m in await handler.wait_for(4)] == [0, 1, 2, 3]


async def test_a_slow_handler_delays_only_its_own_channel(host: InterfaceServer) -> None:
    view = PROBES[0].host
    slow, fast = Recorder(), Recorder()
    slow.gate = asyncio.Event()
    slow_channel = await view.open_reply_channel(slow)
    fast_channel = await view.open_reply_channel(fast)
    await host.layer.send(slow_channel, {"type": "x"})
    await host.layer.send(fast_channel, {"type": "y"})
    assert len(await fast.wait_for(1)) == 1
    assert slow.messages == []
    slow.gate.set()
    assert len(await slow.wait_for(1)) == 1


async def test_a_failing_handler_is_counted_and_the_channel_keeps_going(
    host: InterfaceServer,
) -> None:
    handler = Recorder()
    channel = await PROBES[0].host.open_reply_channel(handler)
    await host.layer.send(channel, {"type": "x", "fail": True})
    await host.layer.send(channel, {"type": "x", "n": 2})
    assert [m["n"] for m in await handler.wait_for(1)] == [2]
    assert host.counters["handler_errors"] == 1


async def test_closing_a_reply_channel_stops_its_runner(host: InterfaceServer) -> None:
    closed = asyncio.Event()
    view = PROBES[0].host
    channel = ""

    async def close_on_first(message: Content) -> None:
        view.close_reply_channel(channel)  # from inside the handler, as interfaces do
        closed.set()

    channel = await view.open_reply_channel(close_on_first)
    await host.layer.send(channel, {"type": "bye"})
    await asyncio.wait_for(closed.wait(), WITHIN)
    assert channel not in host.replies
    idle = await view.open_reply_channel(Recorder())
    view.close_reply_channel(idle)  # interrupts a runner parked on the layer
    assert idle not in host.replies
    assert host.status()["interfaces"]["probe"]["connections"] == 0


async def test_events_without_a_connection_go_to_the_shared_channel(host: InterfaceServer) -> None:
    view = PROBES[0].host
    await view.send_event("probe.note", {"type": "probe.note"})
    assert await host.layer.receive("probe.note") == {"type": "probe.note"}


async def test_channel_full_is_counted_and_raised_for_the_interface(host: InterfaceServer) -> None:
    view = PROBES[0].host
    for _ in range(5):
        await view.send_event("probe.note", {"type": "probe.note"})
    with pytest.raises(ChannelFull):
        await view.send_event("probe.note", {"type": "probe.note"})
    assert host.counters["full"] == 1
    assert host.status()["interfaces"]["probe"]["counters"] == {"events": 5, "overloaded": 1}


async def test_lifespan_hooks_run_in_order_and_stop_gets_the_drain() -> None:
    here = __name__
    server = InterfaceServer(
        InMemoryChannelLayer(),
        [configured(on_startup=[f"{here}.record"], on_shutdown=[f"{here}:record"])],
        ServerSettings(
            drain_timeout=2.5,
            on_startup=[f"{here}.record_async"],
            on_shutdown=[f"{here}.record_async"],
        ),
    )
    await server.start()
    assert server.status()["interfaces"]["probe"]["endpoints"] == ["probe://here"]
    await server.stop()
    assert PROBES[0].stopped_with == 2.5
    assert EVENTS == [
        "probe.init",
        "start",
        "host.probe.startup",
        "async startup",
        "stop",
        "host.probe.shutdown",
        "async shutdown",
    ]


async def test_an_interface_that_fails_to_start_stops_the_ones_already_started() -> None:
    second = configured(fail_start=True)
    second = ConfiguredInterface(
        InterfacePlugin("other", "t", "t", cls=Probe), Probe, second.config
    )
    server = InterfaceServer(InMemoryChannelLayer(), [configured(), second])
    with pytest.raises(StartupError, match="'other' failed to start: address already in use"):
        await server.start()
    assert EVENTS == ["probe.init", "start", "probe.init", "stop"]


def test_a_hook_that_cannot_be_imported_fails_at_construction() -> None:
    with pytest.raises(ConfigError, match=r"server\.on_startup: cannot import 'no_such_mod'"):
        InterfaceServer(InMemoryChannelLayer(), [], ServerSettings(on_startup=["no_such_mod.f"]))

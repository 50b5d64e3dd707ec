"""A Redis restart under a live layer: receive loops are supervised and come back, pending
receives keep waiting and get what is sent once the server is back, senders reconnect,
and every reconnection is counted. The server is restarted on the same port, as an
operator's restart would be."""

from __future__ import annotations

import asyncio
import logging
import secrets

import pytest

from telephonist.core.layers import LayerUnavailable
from telephonist.core.redis import RedisChannelLayer
from tests.servers import RedisServer

from .conftest import MakeLayer, Probe, T


async def test_pending_receives_survive_a_restart(
    server: RedisServer, probe: Probe, make_layer: MakeLayer
) -> None:
    layer = make_layer([server.url], reconnect_max_delay=0.2)
    own = await layer.new_channel()
    await layer.send(own, {"type": "before"})  # scripts loaded, connections warm
    assert await asyncio.wait_for(layer.receive(own), T) == {"type": "before"}
    pending_own = asyncio.create_task(layer.receive(own))
    pending_work = asyncio.create_task(layer.receive("restart.work"))
    await probe.until_blocked(2)

    await asyncio.to_thread(server.restart)  # empty server: no keys, no scripts

    await layer.send(own, {"type": "after"})
    await layer.send("restart.work", {"type": "after"})
    assert await asyncio.wait_for(pending_own, T) == {"type": "after"}
    assert await asyncio.wait_for(pending_work, T) == {"type": "after"}
    assert layer.stats.get("reconnects") >= 1
    # The loops are blocking pops again, not dead and not polling.
    again = asyncio.create_task(layer.receive(own))
    await Probe(server).until_blocked(1)
    await layer.send(own, {"type": "again"})
    assert await asyncio.wait_for(again, T) == {"type": "again"}


async def test_receive_loops_outlast_a_long_outage(
    server: RedisServer, make_layer: MakeLayer
) -> None:
    layer = make_layer([server.url], reconnect_max_delay=0.2, retry_budget=0.5)
    own = await layer.new_channel()
    pending = asyncio.create_task(layer.receive(own))
    await Probe(server).until_blocked(1)
    await asyncio.to_thread(server.stop)
    # Longer than the retry budget: reconnect attempts fail several times over.
    await asyncio.sleep(1.5)  # the case under test is an outage of some duration
    assert not pending.done()
    await asyncio.to_thread(server.start)
    await layer.send(own, {"type": "back"})
    assert await asyncio.wait_for(pending, T) == {"type": "back"}


async def test_a_send_during_an_outage_fails_within_the_retry_budget(
    server: RedisServer, make_layer: MakeLayer
) -> None:
    layer = make_layer([server.url], retry_budget=0.5, reconnect_max_delay=0.1)
    await layer.send("outage", {"type": "warm"})
    await asyncio.to_thread(server.stop)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(LayerUnavailable):
        await layer.send("outage", {"type": "lost"})
    assert loop.time() - started < T
    await asyncio.to_thread(server.start)
    await layer.send("outage", {"type": "back"})
    assert await asyncio.wait_for(layer.receive("outage"), T) == {"type": "back"}
    assert layer.stats.get("reconnects") >= 1


async def test_an_inbox_loop_that_dies_is_restarted(
    server: RedisServer, make_layer: MakeLayer
) -> None:
    # A last line of defence: even a loop killed by a bug (simulated by cancelling its
    # task from outside) comes back, and the receiver waiting on it gets its message.
    layer = make_layer([server.url])
    own = await layer.new_channel()
    pending = asyncio.create_task(layer.receive(own))
    await Probe(server).until_blocked(1)
    [reader] = next(iter(layer._states.values())).inboxes.values()
    reader.task.cancel()
    await layer.send(own, {"type": "still-served"})
    assert await asyncio.wait_for(pending, T) == {"type": "still-served"}


def test_a_never_closed_layer_ends_quietly_at_loop_shutdown(
    server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    # asyncio.run cancels every task left when main() returns, the layer's receive loops
    # among them: that is an end, not a failure, and no line about it is written.
    async def main() -> None:
        layer = RedisChannelLayer(hosts=[server.url], prefix=f"t{secrets.token_hex(4)}")
        own = await layer.new_channel()
        await layer.send(own, {"type": "warm"})
        assert await asyncio.wait_for(layer.receive(own), T) == {"type": "warm"}
        for channel in (own, "quiet.work"):
            asyncio.create_task(layer.receive(channel))  # noqa: RUF006 (left pending)
        await Probe(server).until_blocked(2)

    with caplog.at_level(logging.DEBUG):
        asyncio.run(main())
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert any("cancelled" in r.getMessage() for r in caplog.records)  # it did end

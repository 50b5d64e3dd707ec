"""What the Redis layer promises beyond the shared contract, checked on a private server
through the server's own counters and keys: no polling, coalesced sends, fair pops, one
inbox push per process, per-channel capacity on a shared inbox, expiry on keys."""

from __future__ import annotations

import asyncio
import contextlib
import re

import pytest
import redis

from telephonist.core.layers import ChannelFull, MessageTooLarge, SyncLayer
from telephonist.core.redis.keys import process_tag
from tests.servers import RedisServer

from .conftest import MakeLayer, Probe, StartServer, T, command_delta


async def test_an_idle_process_sends_no_commands(
    server: RedisServer, probe: Probe, make_layer: MakeLayer
) -> None:
    layer = make_layer([server.url])
    own = await layer.new_channel()
    receives = [
        asyncio.create_task(layer.receive(own)),  # the process inbox loop
        asyncio.create_task(layer.receive("idle.work")),  # a worker's channel
    ]
    await probe.until_blocked(2)
    before = probe.commands()
    await asyncio.sleep(2)  # the property under test is what an idle period costs
    assert command_delta(before, probe.commands()) == {}
    # ...and the blocked loops are alive: each wakes with a send.
    await layer.send(own, {"type": "wake"})
    await layer.send("idle.work", {"type": "wake"})
    assert await asyncio.wait_for(asyncio.gather(*receives), T) == [{"type": "wake"}] * 2


async def test_all_process_channels_share_one_blocking_pop(
    server: RedisServer, probe: Probe, make_layer: MakeLayer
) -> None:
    layer = make_layer([server.url])
    channels = [await layer.new_channel(p) for p in ("a.", "b.", "reply.") for _ in range(5)]
    tasks = [asyncio.create_task(layer.receive(ch)) for ch in channels]
    await probe.until_blocked(1)  # fifteen receivers, one blocked connection
    for i, ch in enumerate(channels):
        await layer.send(ch, {"type": "n", "i": i})
    got = await asyncio.wait_for(asyncio.gather(*tasks), T)
    assert [m["i"] for m in got] == list(range(len(channels)))


async def test_concurrent_sends_become_one_script_call(
    server: RedisServer, probe: Probe, make_layer: MakeLayer
) -> None:
    layer = make_layer([server.url], capacity=1000)
    own = await layer.new_channel()
    await layer.send("warm.up", {"type": "x"})  # connect and load the script first
    before = probe.commands()
    sends = [layer.send("co.alesced", {"type": "n", "i": i}) for i in range(200)]
    sends += [layer.send(own, {"type": "n", "i": i}) for i in range(100)]
    await asyncio.gather(*sends)
    delta = command_delta(before, probe.commands())
    assert delta.get("evalsha") == 1, delta  # 300 messages, one round trip, one call
    assert delta["rpush"] == 300
    got = await layer.receive_many("co.alesced", 200)
    assert [m["i"] for m in got] == list(range(200))


async def test_one_batch_answers_each_message(server: RedisServer, make_layer: MakeLayer) -> None:
    layer = make_layer([server.url], capacity=5)
    results = await asyncio.gather(
        *(layer.send("five", {"type": "n", "i": i}) for i in range(8)), return_exceptions=True
    )
    assert [r is None for r in results] == [True] * 5 + [False] * 3
    assert all(isinstance(r, ChannelFull) for r in results[5:])
    assert layer.stats.get("full") == 3


async def test_plain_receive_pops_only_what_waiters_want(
    server: RedisServer, probe: Probe, make_layer: MakeLayer
) -> None:
    # Two worker processes (two layers) wait on one channel; two messages arrive. With
    # any prefetch the first pop would take both and the second worker would starve.
    first = make_layer([server.url])
    second = make_layer([server.url], prefix=first.prefix)
    a = asyncio.create_task(first.receive("fair.work"))
    b = asyncio.create_task(second.receive("fair.work"))
    await probe.until_blocked(2)
    await first.send("fair.work", {"type": "n", "i": 1})
    await first.send("fair.work", {"type": "n", "i": 2})
    got = await asyncio.wait_for(asyncio.gather(a, b), T)
    assert sorted(m["i"] for m in got) == [1, 2]


async def test_receive_many_pops_a_batch_in_one_command(
    server: RedisServer, probe: Probe, make_layer: MakeLayer
) -> None:
    layer = make_layer([server.url])
    await layer.send_many([("bulk", {"type": "n", "i": i}) for i in range(10)])
    before = probe.commands()
    got = await layer.receive_many("bulk", 10)
    assert [m["i"] for m in got] == list(range(10))
    assert command_delta(before, probe.commands()).get("blmpop") == 1


async def test_group_send_pushes_once_per_process(
    server: RedisServer, probe: Probe, make_layer: MakeLayer
) -> None:
    one = make_layer([server.url])
    two = make_layer([server.url], prefix=one.prefix)
    mine = [await one.new_channel() for _ in range(3)]
    theirs = await two.new_channel()
    for channel in [*mine, theirs, "plain.member"]:
        await one.group_add("room", channel)
    await one.group_send("room", {"type": "hello"})
    # Nobody has received yet: what is queued is one envelope per process, one for the
    # normal channel.
    inbox = f"{one.prefix}:p:{{{process_tag(mine[0])}}}"
    assert probe.client.llen(inbox) == 1
    assert probe.client.llen(f"{one.prefix}:p:{{{process_tag(theirs)}}}") == 1
    assert probe.client.llen(f"{one.prefix}:c:{{plain.member}}") == 1
    counts = probe.client.hgetall(f"{one.prefix}:n:{{{process_tag(mine[0])}}}")
    assert counts == {ch.encode(): b"1" for ch in mine}  # capacity stays per channel
    for channel in mine:
        assert await asyncio.wait_for(one.receive(channel), T) == {"type": "hello"}
    assert await asyncio.wait_for(two.receive(theirs), T) == {"type": "hello"}
    assert await asyncio.wait_for(one.receive("plain.member"), T) == {"type": "hello"}
    assert sorted(await one.group_channels("room")) == sorted([*mine, theirs, "plain.member"])


async def test_a_group_send_to_thousands_of_own_channels_keeps_capacity_per_channel(
    server: RedisServer, probe: Probe, make_layer: MakeLayer
) -> None:
    """More members of one process than one script call's chunk (2,000): every member
    with room gets the message once, the full one is skipped and counted, each member's
    count is one, and receivers woken by the delivery leave no bookkeeping behind."""
    layer = make_layer([server.url], capacity=2)
    channels = [await layer.new_channel() for _ in range(2_100)]
    full = channels[1_999]  # in the first chunk; its neighbour starts the second
    await layer.send(full, {"type": "1"})
    await layer.send(full, {"type": "2"})
    for channel in channels:
        await layer.group_add("crowd", channel)
    receivers = [asyncio.create_task(layer.receive(ch)) for ch in channels if ch != full]
    await asyncio.sleep(0)
    await layer.group_send("crowd", {"type": "crowd"})
    got = await asyncio.wait_for(asyncio.gather(*receivers), T)
    assert got == [{"type": "crowd"}] * (len(channels) - 1)
    assert got[0] is not got[1]  # each its own copy
    assert layer.stats.get("full") == 1
    assert layer.traffic.received == len(channels) - 1
    counts = f"{layer.prefix}:n:{{{process_tag(full)}}}"
    async with asyncio.timeout(T):  # the acks ride on a later round trip
        while probe.client.hlen(counts) != 1:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    assert probe.client.hget(counts, full) == b"2"
    assert not layer._state().local.waiting()
    assert [m["type"] for m in [await layer.receive(full), await layer.receive(full)]] == [
        "1",
        "2",
    ]


async def test_a_receiver_cancelled_as_a_group_send_wakes_it_loses_nothing(
    server: RedisServer, make_layer: MakeLayer
) -> None:
    """Cancel one of many receivers at every point around the delivery of a group send:
    the message handed to it is handed on to the channel's next receive."""
    layer = make_layer([server.url])
    channels = [await layer.new_channel() for _ in range(50)]
    for channel in channels:
        await layer.group_add("room", channel)
    victim = channels[25]
    for delay in range(8):  # yields between the send and the cancel: sweeps the race
        receivers = {ch: asyncio.create_task(layer.receive(ch)) for ch in channels}
        await asyncio.sleep(0)
        sending = asyncio.create_task(layer.group_send("room", {"type": "r", "i": delay}))
        for _ in range(delay):
            await asyncio.sleep(0)
        receivers[victim].cancel()
        await sending
        results = await asyncio.wait_for(
            asyncio.gather(*receivers.values(), return_exceptions=True), T
        )
        for channel, result in zip(receivers, results, strict=True):
            if channel == victim and isinstance(result, asyncio.CancelledError):
                result = await asyncio.wait_for(layer.receive(victim), T)
            assert result == {"type": "r", "i": delay}, (delay, channel)
        assert not layer._state().local.waiting()


async def test_delivered_messages_leave_their_channels_count(
    server: RedisServer, probe: Probe, make_layer: MakeLayer
) -> None:
    layer = make_layer([server.url], capacity=2)
    channel = await layer.new_channel()
    counts = f"{layer.prefix}:n:{{{process_tag(channel)}}}"
    await layer.send(channel, {"type": "1"})
    await layer.send(channel, {"type": "2"})
    with pytest.raises(ChannelFull):
        await layer.send(channel, {"type": "3"})
    assert await asyncio.wait_for(layer.receive(channel), T) == {"type": "1"}
    async with asyncio.timeout(T):  # the ack rides on the next round trip
        while probe.client.hget(counts, channel) != b"1":  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    await layer.send(channel, {"type": "3"})  # room again


async def test_keys_expire_so_a_dead_process_leaves_nothing(
    server: RedisServer, probe: Probe, make_layer: MakeLayer
) -> None:
    layer = make_layer([server.url], expiry=30, group_expiry=90)
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "x"})
    await layer.send("plain", {"type": "x"})
    await layer.group_add("g", channel)
    tag = process_tag(channel)
    # Twice the message expiry: long enough for expired messages to be popped and
    # counted, short enough that a dead process's inbox goes.
    for key in (f"{layer.prefix}:p:{{{tag}}}", f"{layer.prefix}:n:{{{tag}}}"):
        assert 30_000 < probe.client.pttl(key) <= 60_000
    assert 30_000 < probe.client.pttl(f"{layer.prefix}:c:{{plain}}") <= 60_000
    assert 30_000 < probe.client.pttl(f"{layer.prefix}:g:{{g}}") <= 90_000


async def test_expired_messages_are_counted(server: RedisServer, make_layer: MakeLayer) -> None:
    layer = make_layer([server.url], expiry=1)
    own = await layer.new_channel()
    await layer.send("stale", {"type": "old"})
    await layer.send(own, {"type": "old"})
    await asyncio.sleep(1.2)  # the semantics under test is the passage of time
    await layer.send("stale", {"type": "new"})
    await layer.send(own, {"type": "new"})
    assert await asyncio.wait_for(layer.receive("stale"), T) == {"type": "new"}
    assert await asyncio.wait_for(layer.receive(own), T) == {"type": "new"}
    assert layer.stats.get("expired") == 2


async def test_a_full_channel_of_expired_messages_takes_fresh_ones(
    server: RedisServer, make_layer: MakeLayer
) -> None:
    layer = make_layer([server.url], expiry=1, capacity=2)
    await layer.send_many([("stale.full", {"type": "old"})] * 2)
    await asyncio.sleep(1.2)  # the semantics under test is the passage of time
    await layer.send("stale.full", {"type": "new"})  # the script trims the stale head
    assert await asyncio.wait_for(layer.receive("stale.full"), T) == {"type": "new"}
    assert layer.stats.get("expired") == 2


async def test_too_large_is_counted(server: RedisServer, make_layer: MakeLayer) -> None:
    layer = make_layer([server.url], max_message_size=100)
    with pytest.raises(MessageTooLarge):
        await layer.send("x", {"type": "x", "body": b"x" * 200})
    with pytest.raises(MessageTooLarge):
        await layer.group_send("g", {"type": "x", "body": b"x" * 200})
    assert layer.stats.get("too_large") == 2


async def test_a_server_out_of_memory_refuses_as_full(
    server: RedisServer, make_layer: MakeLayer
) -> None:
    """At ``maxmemory`` with ``noeviction`` (docs/deploy.md's configuration) the server
    refuses writes: senders get ChannelFull, as from a full channel, counted both ways."""
    layer = make_layer([server.url])
    await layer.send("before", {"type": "x"})
    probe = Probe(server)
    probe.client.config_set("maxmemory-policy", "noeviction")
    probe.client.config_set("maxmemory", "1")
    try:
        results = await asyncio.gather(
            *(layer.send("oom", {"type": "n", "i": i}) for i in range(3)), return_exceptions=True
        )
        assert all(isinstance(r, ChannelFull) for r in results), results
        assert layer.stats.get("out_of_memory") == 3
        assert layer.stats.get("full") == 3
    finally:
        probe.client.config_set("maxmemory", "0")
    await layer.send("after", {"type": "x"})
    assert await asyncio.wait_for(layer.receive("after"), T) == {"type": "x"}


async def test_group_capacity_overrides_apply_server_side(
    server: RedisServer, make_layer: MakeLayer
) -> None:
    for override in ({"tiny.*": 1}, {re.compile(r"^tiny\."): 1}):  # Lua path, two-step path
        layer = make_layer([server.url], capacity=10, channel_capacity=override)
        await layer.send("tiny.box", {"type": "first"})
        await layer.group_add("g", "tiny.box")
        await layer.group_add("g", "roomy.box")
        await layer.group_send("g", {"type": "broadcast"})
        assert layer.stats.get("full") == 1
        assert await asyncio.wait_for(layer.receive("roomy.box"), T) == {"type": "broadcast"}
        assert await asyncio.wait_for(layer.receive("tiny.box"), T) == {"type": "first"}
        await layer.flush()


async def test_flush_leaves_other_prefixes_alone(
    server: RedisServer, make_layer: MakeLayer
) -> None:
    mine, other = make_layer([server.url]), make_layer([server.url])
    await mine.send("shared.name", {"type": "mine"})
    await other.send("shared.name", {"type": "other"})
    await mine.flush()
    assert await asyncio.wait_for(other.receive("shared.name"), T) == {"type": "other"}


async def test_cancelled_receives_lose_nothing(server: RedisServer, make_layer: MakeLayer) -> None:
    """Cancel a receive at every point of its life, around the moment its message arrives:
    a message popped for a receive that was cancelled is handed on or pushed back."""
    layer = make_layer([server.url], capacity=1000)
    sent = 0
    received: list[int] = []
    for delay in range(12):  # yields between the send and the cancel: sweeps the race
        task = asyncio.create_task(layer.receive("race"))
        await asyncio.sleep(0)
        await layer.send("race", {"type": "n", "i": sent})
        sent += 1
        for _ in range(delay):
            await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            received.append((await task)["i"])
    while len(received) < sent:
        received.append((await asyncio.wait_for(layer.receive("race"), T))["i"])
    assert sorted(received) == list(range(sent))
    assert layer.stats.get("cancelled") == 0


async def test_each_event_loop_has_its_own_connections(
    server: RedisServer, probe: Probe, make_layer: MakeLayer
) -> None:
    layer = make_layer([server.url])
    sync = SyncLayer(layer)
    try:
        # A channel made on the SyncLayer's loop, received on ours: the receive runs on the
        # loop whose inbox reader serves that channel.
        theirs = await asyncio.to_thread(sync.new_channel)
        ours = await layer.new_channel()
        waiting = asyncio.create_task(layer.receive(theirs))
        await asyncio.to_thread(sync.send, theirs, {"type": "from-thread"})
        await asyncio.to_thread(sync.send, ours, {"type": "to-main"})
        assert await asyncio.wait_for(waiting, T) == {"type": "from-thread"}
        assert await asyncio.wait_for(layer.receive(ours), T) == {"type": "to-main"}
        # ...and the other way: the thread blocks on a channel of the main loop.
        reply = asyncio.create_task(asyncio.to_thread(sync.receive, ours, T))
        await layer.send(ours, {"type": "to-thread"})
        assert await asyncio.wait_for(reply, T + 1) == {"type": "to-thread"}
        assert len(layer._states) == 2  # one state (connections, loops) per event loop
    finally:
        await asyncio.to_thread(sync.close)
    assert len(layer._states) == 1


async def test_unread_process_messages_expire_locally_and_free_their_count(
    server: RedisServer, probe: Probe, make_layer: MakeLayer
) -> None:
    layer = make_layer([server.url], expiry=1)
    unread, read = await layer.new_channel(), await layer.new_channel()
    counts = f"{layer.prefix}:n:{{{process_tag(unread)}}}"
    waiting = asyncio.create_task(layer.receive(read))  # starts the inbox loop
    await layer.send(unread, {"type": "nobody reads this"})
    await layer.send(read, {"type": "x"})
    assert await asyncio.wait_for(waiting, T) == {"type": "x"}
    # The unread message now sits in this process's buffer, counted against its channel.
    assert probe.client.hget(counts, unread) == b"1"
    assert layer.describe()["buffered"] == {unread: 1}
    assert layer.describe()["receive_loops"] == 1
    await asyncio.sleep(1.3)  # the semantics under test is the passage of time
    async with asyncio.timeout(T):  # a local timer drops it; the ack follows
        while probe.client.hexists(counts, unread):  # noqa: ASYNC110 (the server's state)
            await asyncio.sleep(0.01)
    assert layer.stats.get("expired") == 1


async def test_close_stops_every_loop_and_connection(
    server: RedisServer, probe: Probe, make_layer: MakeLayer
) -> None:
    layer = make_layer([server.url])
    baseline = int(probe.client.info("clients")["connected_clients"])
    own = await layer.new_channel()
    receives = [
        asyncio.create_task(layer.receive(own)),
        asyncio.create_task(layer.receive("closing.work")),
    ]
    await layer.send("other", {"type": "x"})
    await probe.until_blocked(2)
    assert int(probe.client.info("clients")["connected_clients"]) == baseline + 3
    await layer.close()
    for task in receives:  # pending receives are told, not left hanging
        with pytest.raises(ConnectionError):
            await asyncio.wait_for(task, T)
    leftover = [t for t in asyncio.all_tasks() if "telephonist" in repr(t.get_coro())]
    assert leftover == []
    async with asyncio.timeout(T):  # the server sees the sockets close
        while int(probe.client.info("clients")["connected_clients"]) != baseline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    # ...and the layer is usable again afterwards.
    await layer.send("after.close", {"type": "x"})
    assert await asyncio.wait_for(layer.receive("after.close"), T) == {"type": "x"}


async def test_servers_without_blmpop_get_blpop(
    start_server: StartServer, make_layer: MakeLayer
) -> None:
    # Redis < 7 has no BLMPOP; a server with the command renamed away answers the same.
    server = start_server(extra_args=("--rename-command", "BLMPOP", ""))
    with pytest.raises(redis.ResponseError, match="unknown command"):
        Probe(server).client.execute_command("BLMPOP", 1, 1, "k", "LEFT")
    layer = make_layer([server.url])
    own = await layer.new_channel()
    for i in range(3):
        await layer.send("old.server", {"type": "n", "i": i})
        await layer.send(own, {"type": "n", "i": i})
    got = [(await asyncio.wait_for(layer.receive("old.server"), T))["i"] for _ in range(3)]
    assert got == [0, 1, 2]
    assert [(await asyncio.wait_for(layer.receive(own), T))["i"] for _ in range(3)] == [0, 1, 2]
    # receive_many still returns what is there, in order (one per pop on such servers).
    await layer.send_many([("old.server", {"type": "n", "i": i}) for i in range(3)])
    got = []
    async with asyncio.timeout(T):
        while len(got) < 3:
            got += [m["i"] for m in await layer.receive_many("old.server", 5)]
    assert got == [0, 1, 2]

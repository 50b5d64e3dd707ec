"""The channel-layer contract, run against every backend (see conftest.py).

Where time must pass because the semantics under test are about time (expiry), the
``elapse`` fixture moves it (see conftest.py); waits for events use bounded ``wait_for``,
never sleeps.
"""

from __future__ import annotations

import asyncio
import threading

import pytest

from telephonist.core.layers import BaseChannelLayer, ChannelFull, MessageTooLarge, SyncLayer

from .conftest import Elapse, LayerFactory

T = 5.0  # bound on any wait for something that should happen promptly


async def _receive(layer: BaseChannelLayer, channel: str) -> dict:
    return await asyncio.wait_for(layer.receive(channel), T)


async def _assert_blocks(layer: BaseChannelLayer, channel: str) -> asyncio.Task[dict]:
    """Start a receive and check it is still waiting a moment later (nothing to get)."""
    task = asyncio.create_task(layer.receive(channel))
    done, _ = await asyncio.wait({task}, timeout=0.2)
    assert not done, f"receive on {channel} returned {task.result()!r} from an empty channel"
    return task


async def test_round_trip_keeps_types(layer: BaseChannelLayer) -> None:
    message = {
        "type": "test.message",
        "text": "héllo",
        "n": 3,
        "f": 1.5,
        "b": b"\x00\xff",
        "list": [1, "two", None],
        "nested": {"ok": True},
    }
    await layer.send("test.channel", message)
    assert await _receive(layer, "test.channel") == message


async def test_fifo_for_one_reader(layer: BaseChannelLayer) -> None:
    for i in range(50):
        await layer.send("fifo", {"type": "n", "i": i})
    got = [(await _receive(layer, "fifo"))["i"] for _ in range(50)]
    assert got == list(range(50))


async def test_receive_blocks_until_a_send(layer: BaseChannelLayer) -> None:
    task = await _assert_blocks(layer, "waiting")
    await layer.send("waiting", {"type": "wake"})
    assert (await asyncio.wait_for(task, T)) == {"type": "wake"}


async def test_cancelled_receive_leaves_the_channel_usable(layer: BaseChannelLayer) -> None:
    task = await _assert_blocks(layer, "cancel.me")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await layer.send("cancel.me", {"type": "after"})
    assert await _receive(layer, "cancel.me") == {"type": "after"}


async def test_at_most_once_with_concurrent_readers(make_layer: LayerFactory) -> None:
    layer = make_layer(capacity=500)
    received: list[int] = []
    all_in = asyncio.Event()

    async def reader() -> None:
        while True:
            received.append((await layer.receive("shared"))["i"])
            if len(received) >= 200:
                all_in.set()

    readers = [asyncio.create_task(reader()) for _ in range(5)]
    try:
        for i in range(200):
            await layer.send("shared", {"type": "n", "i": i})
        await asyncio.wait_for(all_in.wait(), T)
    finally:
        for r in readers:
            r.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
    assert sorted(received) == list(range(200)), "each message exactly once"


async def test_capacity_refuses_with_channel_full(make_layer: LayerFactory) -> None:
    layer = make_layer(capacity=3)
    for i in range(3):
        await layer.send("small", {"type": "n", "i": i})
    with pytest.raises(ChannelFull):
        await layer.send("small", {"type": "n", "i": 3})
    assert (await _receive(layer, "small"))["i"] == 0
    await layer.send("small", {"type": "n", "i": 4})  # room again after a receive


async def test_capacity_overrides_by_glob(make_layer: LayerFactory) -> None:
    layer = make_layer(capacity=5, channel_capacity={"tiny.*": 1})
    await layer.send("tiny.one", {"type": "a"})
    with pytest.raises(ChannelFull):
        await layer.send("tiny.one", {"type": "b"})
    for _ in range(5):
        await layer.send("roomy", {"type": "a"})


async def test_process_specific_channels_have_their_own_capacity(
    make_layer: LayerFactory,
) -> None:
    layer = make_layer(capacity=2)
    a = await layer.new_channel()
    b = await layer.new_channel()
    assert a != b
    assert a.split("!")[0] == b.split("!")[0], "same process, same non-local part"
    await layer.send(a, {"type": "1"})
    await layer.send(a, {"type": "2"})
    with pytest.raises(ChannelFull):
        await layer.send(a, {"type": "3"})
    await layer.send(b, {"type": "for-b"})  # a full sibling does not block b
    assert await _receive(layer, b) == {"type": "for-b"}
    assert await _receive(layer, a) == {"type": "1"}
    assert await _receive(layer, a) == {"type": "2"}


async def test_process_specific_receive_blocks_and_wakes(layer: BaseChannelLayer) -> None:
    a = await layer.new_channel("reply.")
    assert a.startswith("reply.")
    task = await _assert_blocks(layer, a)
    await layer.send(a, {"type": "wake"})
    assert (await asyncio.wait_for(task, T)) == {"type": "wake"}


async def test_expired_messages_are_dropped(make_layer: LayerFactory, elapse: Elapse) -> None:
    layer = make_layer(expiry=1)
    await layer.send("ephemeral", {"type": "old"})
    await elapse(1.3)
    await layer.send("ephemeral", {"type": "new"})
    assert await _receive(layer, "ephemeral") == {"type": "new"}


async def test_message_size_limit(make_layer: LayerFactory) -> None:
    layer = make_layer(max_message_size=1024)
    with pytest.raises(MessageTooLarge):
        await layer.send("big", {"type": "x", "body": b"x" * 2000})
    await layer.send("big", {"type": "x", "body": b"x" * 500})
    assert len((await _receive(layer, "big"))["body"]) == 500


async def test_message_must_be_a_serialisable_dict(layer: BaseChannelLayer) -> None:
    with pytest.raises(TypeError):
        await layer.send("bad", ["not", "a", "dict"])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await layer.send("bad", {"type": "x", "obj": object()})


@pytest.mark.parametrize("name", ["", "sp ace", "a" * 100, "two!bang!s", "ü", 42])
async def test_invalid_names_are_refused(layer: BaseChannelLayer, name: object) -> None:
    with pytest.raises(TypeError):
        await layer.send(name, {"type": "x"})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        await layer.group_add(name if name != "two!bang!s" else "has!bang", "ok")  # type: ignore[arg-type]


async def test_sent_message_is_isolated_from_later_mutation(layer: BaseChannelLayer) -> None:
    message = {"type": "x", "items": [1, 2], "meta": {"k": "v"}}
    await layer.send("iso", message)
    message["items"].append(3)
    message["meta"]["k"] = "changed"
    message["type"] = "y"
    assert await _receive(layer, "iso") == {"type": "x", "items": [1, 2], "meta": {"k": "v"}}


async def test_group_add_send_discard(layer: BaseChannelLayer) -> None:
    a, b = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("room", a)
    await layer.group_add("room", b)
    await layer.group_send("room", {"type": "hi"})
    assert await _receive(layer, a) == {"type": "hi"}
    assert await _receive(layer, b) == {"type": "hi"}
    await layer.group_discard("room", b)
    await layer.group_send("room", {"type": "again"})
    assert await _receive(layer, a) == {"type": "again"}
    task = await _assert_blocks(layer, b)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_group_send_reaches_normal_channels(layer: BaseChannelLayer) -> None:
    await layer.group_add("mixed", "plain.channel")
    await layer.group_send("mixed", {"type": "hi"})
    assert await _receive(layer, "plain.channel") == {"type": "hi"}


async def test_group_send_skips_full_members(make_layer: LayerFactory) -> None:
    layer = make_layer(capacity=1)
    full, free = await layer.new_channel(), await layer.new_channel()
    await layer.send(full, {"type": "first"})
    await layer.group_add("g", full)
    await layer.group_add("g", free)
    await layer.group_send("g", {"type": "broadcast"})  # must not raise
    assert await _receive(layer, free) == {"type": "broadcast"}
    assert await _receive(layer, full) == {"type": "first"}


async def test_group_membership_expires(make_layer: LayerFactory, elapse: Elapse) -> None:
    layer = make_layer(group_expiry=1)
    a = await layer.new_channel()
    await layer.group_add("lapsing", a)
    await elapse(1.3)
    await layer.group_send("lapsing", {"type": "late"})
    task = await _assert_blocks(layer, a)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_group_send_to_empty_group_is_fine(layer: BaseChannelLayer) -> None:
    await layer.group_send("nobody.here", {"type": "x"})


async def test_flush_empties_channels_and_groups(layer: BaseChannelLayer) -> None:
    a = await layer.new_channel()
    await layer.send("flushed", {"type": "x"})
    await layer.group_add("fg", a)
    await layer.flush()
    await layer.group_send("fg", {"type": "after"})
    for channel in ("flushed", a):
        task = await _assert_blocks(layer, channel)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_send_many_reports_each_outcome(make_layer: LayerFactory) -> None:
    layer = make_layer(capacity=2)
    results = await layer.send_many(
        [("m", {"type": str(i)}) for i in range(3)] + [("other", {"type": "o"})]
    )
    assert results == [True, True, False, True]
    assert [(await _receive(layer, "m"))["type"] for _ in range(2)] == ["0", "1"]


async def test_receive_many_returns_what_is_waiting_in_order(layer: BaseChannelLayer) -> None:
    for i in range(10):
        await layer.send("batch", {"type": "n", "i": i})
    got: list[int] = []
    async with asyncio.timeout(T):
        while len(got) < 10:
            got += [m["i"] for m in await layer.receive_many("batch", 4)]
    assert got == list(range(10))


async def test_group_send_many_delivers_once_per_channel(layer: BaseChannelLayer) -> None:
    a, b = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("g1", a)
    await layer.group_add("g2", a)
    await layer.group_add("g2", b)
    await layer.group_send_many(["g1", "g2"], {"type": "once"})
    assert await _receive(layer, a) == {"type": "once"}
    assert await _receive(layer, b) == {"type": "once"}
    task = await _assert_blocks(layer, a)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_sync_facade_from_another_thread(layer: BaseChannelLayer) -> None:
    sync = SyncLayer(layer)
    errors: list[BaseException] = []

    def other_thread() -> None:
        try:
            sync.send("from.thread", {"type": "hello"})
        except BaseException as exc:  # reported to the test below
            errors.append(exc)

    try:
        thread = threading.Thread(target=other_thread)
        thread.start()
        assert await _receive(layer, "from.thread") == {"type": "hello"}
        await asyncio.to_thread(thread.join, T)
        assert not errors
    finally:
        await asyncio.to_thread(sync.close)


async def test_a_process_receives_only_on_its_own_process_channels(
    make_layer: LayerFactory,
) -> None:
    # Two layers of the same backend and settings are two processes: one must not read
    # (and so steal) the other's messages; the refusal comes at once, not after a wait.
    mine, other = make_layer(), make_layer()
    theirs = await other.new_channel("other.")
    forged = theirs.split("!")[0][:-12] + "0" * 12 + "!x"  # a token nobody made
    for name in (theirs, forged, "short!x", theirs.split("!")[0] + "!"):
        with pytest.raises(TypeError, match="only on its own '!' channels"):
            await asyncio.wait_for(mine.receive(name), T)
        with pytest.raises(TypeError, match="only on its own '!' channels"):
            await asyncio.wait_for(mine.receive_many(name, 10), T)
    # Nothing was left reading the other's channel: all its messages reach it. (Sent
    # through ``other``: two in-memory layers share no store, two Redis layers do.)
    for i in range(20):
        await other.send(theirs, {"type": "m", "i": i})
    for i in range(20):
        assert await _receive(other, theirs) == {"type": "m", "i": i}
    own = await mine.new_channel("mine.")
    await mine.send(own, {"type": "to-mine"})
    assert await _receive(mine, own) == {"type": "to-mine"}


async def test_close_pools_is_close(layer: BaseChannelLayer) -> None:
    # channels_redis' name for close(): the layer is usable again after it, its own
    # channels made before it included.
    own = await layer.new_channel()
    await layer.close_pools()
    await layer.send(own, {"type": "after"})
    await layer.send("after.close", {"type": "after"})
    assert await _receive(layer, own) == {"type": "after"}
    assert await _receive(layer, "after.close") == {"type": "after"}

"""Local hand-off on process-specific channels (``core/redis/local.py``), no server: the
inbox reader hands each message straight to a waiting receive, so the cases to pin are
a receive cancelled after the hand-off, ``receive_many`` collecting, and copies for the
members of a group send."""

from __future__ import annotations

import asyncio
from collections import Counter

from telephonist.core.codec import encode
from telephonist.core.redis.keys import now_ms, pack_envelope, unpack_envelope
from telephonist.core.redis.local import AckBuffer, Acks, LocalChannels
from telephonist.core.stats import LayerStats

TAG = "a1b2c3d4e5f6"
ONE, TWO = f"reply.{TAG}!one", f"reply.{TAG}!two"


class _Acks(AckBuffer):
    """Records what would be sent; ``total()`` is everything acked so far, per channel."""

    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()
        super().__init__(self._record)

    async def _record(self, acks: Acks) -> None:
        for counts in acks.values():
            self.sent.update(counts)

    def total(self) -> Counter[str]:
        self.sent.update(self.take(TAG) or Counter())
        return +self.sent  # zero counts dropped


def _local() -> tuple[LocalChannels, _Acks]:
    acks = _Acks()
    return LocalChannels(LayerStats(), acks), acks


def _envelope(channels: list[str], message: dict[str, object]) -> bytes:
    return pack_envelope(now_ms() + 60_000, ",".join(channels), encode(message, 10_000))


async def test_a_receive_cancelled_after_the_hand_off_puts_its_message_back() -> None:
    local, acks = _local()
    first = asyncio.create_task(local.receive(ONE, 1))
    await asyncio.sleep(0)  # parked
    local.deliver(unpack_envelope(_envelope([ONE], {"type": "x", "i": 1}), 10_000), TAG)
    first.cancel()  # handed, but cancelled before it ran
    await asyncio.gather(first, return_exceptions=True)
    assert first.cancelled()
    assert acks.total() == Counter()  # acked on hand-off, then counted again
    assert await asyncio.wait_for(local.receive(ONE, 1), 1) == [{"type": "x", "i": 1}]
    assert acks.total() == Counter({ONE: 1})


async def test_a_put_back_message_goes_to_the_next_waiter() -> None:
    local, acks = _local()
    first = asyncio.create_task(local.receive(ONE, 1))
    second = asyncio.create_task(local.receive(ONE, 1))
    await asyncio.sleep(0)
    local.deliver(unpack_envelope(_envelope([ONE], {"type": "x"}), 10_000), TAG)
    first.cancel()
    assert await asyncio.wait_for(second, 1) == [{"type": "x"}]
    await asyncio.sleep(0)  # the ack buffer's flush
    assert acks.total() == Counter({ONE: 1})


async def test_receive_many_collects_until_it_runs_in_order() -> None:
    local, _ = _local()
    waiting = asyncio.create_task(local.receive(ONE, 3))
    await asyncio.sleep(0)
    for i in range(4):
        local.deliver(unpack_envelope(_envelope([ONE], {"type": "n", "i": i}), 10_000), TAG)
    assert [m["i"] for m in await waiting] == [0, 1, 2]
    assert [m["i"] for m in await local.receive(ONE, 3)] == [3]


async def test_group_members_get_their_own_copies() -> None:
    local, _ = _local()
    messages: list[dict[str, object]] = [
        {"type": "flat", "text": "hi"},
        {"type": "nested", "list": [1, 2]},
    ]
    for message in messages:
        one = asyncio.create_task(local.receive(ONE, 1))
        two = asyncio.create_task(local.receive(TWO, 1))
        await asyncio.sleep(0)
        local.deliver(unpack_envelope(_envelope([ONE, TWO], message), 10_000), TAG)
        [a], [b] = await one, await two
        assert a == b == message
        assert a is not b
        if "list" in a:
            a["list"].append(3)
            assert b["list"] == [1, 2]

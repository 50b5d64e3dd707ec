"""``channels_redis`` works as a Telephonist backend: make_channel_layer wraps it and the
batch operations the runtime relies on work on top of its plain contract."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from telephonist.core.layers import (
    BaseChannelLayer,
    ChannelFull,
    ChannelsLayerAdapter,
    make_channel_layer,
)
from tests.servers import RedisServer


@pytest.fixture
async def layer(redis_server: RedisServer) -> AsyncIterator[BaseChannelLayer]:
    built = make_channel_layer(
        {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [redis_server.url], "prefix": "cr-compat", "capacity": 3},
        }
    )
    yield built
    await built.flush()
    await built.close()


async def test_wrapped_and_round_trips(layer: BaseChannelLayer) -> None:
    assert isinstance(layer, ChannelsLayerAdapter)
    await layer.send("compat.chan", {"type": "x", "n": 1})
    assert await asyncio.wait_for(layer.receive("compat.chan"), 5) == {"type": "x", "n": 1}


async def test_batch_operations_on_a_foreign_layer(layer: BaseChannelLayer) -> None:
    assert await layer.send_many([("compat.b", {"type": str(i)}) for i in range(4)]) == [
        True,
        True,
        True,
        False,
    ]
    got = [(await asyncio.wait_for(layer.receive("compat.b"), 5))["type"] for _ in range(3)]
    assert got == ["0", "1", "2"]


async def test_channel_full_is_ours(layer: BaseChannelLayer) -> None:
    for i in range(3):
        await layer.send("compat.full", {"type": str(i)})
    with pytest.raises(ChannelFull):
        await layer.send("compat.full", {"type": "over"})
    assert layer.stats.get("full") == 1


async def test_groups_through_the_adapter(layer: BaseChannelLayer) -> None:
    a = await layer.new_channel()
    b = await layer.new_channel()
    await layer.group_add("g1", a)
    await layer.group_add("g2", b)
    await layer.group_send_many(["g1", "g2"], {"type": "hi"})
    assert await asyncio.wait_for(layer.receive(a), 5) == {"type": "hi"}
    assert await asyncio.wait_for(layer.receive(b), 5) == {"type": "hi"}

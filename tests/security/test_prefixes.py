"""Layer prefixes share a server without touching each other's keys: ``flush()`` on
prefix ``P`` deletes ``P``'s channels, inboxes, counts, groups and claims and none of
prefix ``P:x``'s (a ``P:*`` match would take both), nor of other prefixes that start
alike."""

from __future__ import annotations

import asyncio
import secrets

import pytest
import redis

from telephonist.core.claims import claims_of
from telephonist.core.redis import RedisChannelLayer
from telephonist.core.redis.claims import claim_key
from telephonist.core.redis.keys import KeyLayout, process_tag
from tests.servers import RedisServer

pytestmark = pytest.mark.redis

T = 5.0


async def _fill(layer: RedisChannelLayer) -> tuple[str, list[str]]:
    """One key of every kind: a normal channel, an inbox and its counts, a group, a claim."""
    own = await layer.new_channel()
    await layer.send("shared.name", {"type": "x"})
    await layer.send(own, {"type": "x"})
    await layer.group_add("room", own)
    assert await claims_of(layer).claim("job", "mine", 60) is None
    keys = KeyLayout(layer.prefix)
    tag = process_tag(own)
    return own, [
        keys.channel("shared.name"),
        keys.inbox(tag),
        keys.counts(tag),
        keys.group("room"),
        claim_key(keys, "job"),
    ]


async def test_flush_touches_only_its_own_prefix(redis_server: RedisServer) -> None:
    base = f"P{secrets.token_hex(3)}"
    prefixes = [base, f"{base}:x", f"{base}:c", f"{base}:c:", f"{base}:", f"{base}x"]
    layers = [RedisChannelLayer(hosts=[redis_server.url], prefix=p) for p in prefixes]
    raw = redis.Redis.from_url(redis_server.url)
    try:
        filled = [await _fill(layer) for layer in layers]
        assert all(raw.exists(*keys) == 5 for _, keys in filled)

        await layers[0].flush()

        assert raw.exists(*filled[0][1]) == 0
        for layer, (own, keys) in zip(layers[1:], filled[1:], strict=True):
            assert raw.exists(*keys) == 5, layer.prefix
            assert await asyncio.wait_for(layer.receive("shared.name"), T) == {"type": "x"}
            assert await asyncio.wait_for(layer.receive(own), T) == {"type": "x"}
            assert await layer.group_channels("room") == [own]
    finally:
        raw.close()
        for layer in layers:
            await layer.flush()
            await layer.close()

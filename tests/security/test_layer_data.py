"""Hostile layer data (docs/layers.md, "Hostile data"): anything written
straight into the Redis lists a process reads costs one dropped, counted message, never
a reader. Each malformed kind is pushed with a plain redis-py client into the layer's
own keys, then a good message is sent through the layer: it must arrive, on a normal
channel, on a process inbox (``!`` channels) and through the worker's batch receive."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Iterator

import msgpack
import pytest
import redis

from telephonist.core.codec import encode
from telephonist.core.redis import RedisChannelLayer
from telephonist.core.redis.keys import KeyLayout, now_ms, process_tag
from tests.servers import RedisServer

pytestmark = pytest.mark.redis

T = 5.0  # bound on any wait for something that should happen promptly
MAX = 4096  # the layers' max_message_size here, so "too big" is cheap to build
GOOD = {"type": "good", "n": 1}
FOREIGN = "other.000000000000!x"  # a channel of a process that is not this one


def _payload_kinds() -> dict[str, bytes]:
    """Payloads that are not a message, framed correctly."""
    return {
        "bare integer": msgpack.packb(5),
        "list at the top": msgpack.packb([1, 2]),
        "string at the top": msgpack.packb("type"),
        "not msgpack": b"\xc1\xc1\xc1",
        "truncated map": b"\x82\xa4type",
        "trailing bytes": msgpack.packb({"type": "x"}) + b"\x00",
        "nested 100,000 deep": b"\x81\xa1a" + b"\x91" * 100_000 + b"\xc0",
        "array claiming 4 GiB": b"\x81\xa1a\xdd\xff\xff\xff\xff",
        "map claiming 4 GiB": b"\xdf\xff\xff\xff\xff",
        "string claiming 4 GiB": b"\x81\xa1a\xdb\xff\xff\xff\xff",
        "list as a map key": b"\x81\x91\x01\x01",
        "invalid UTF-8 key": b"\x81\xa2\xff\xfe\x01",
        "over max_message_size": msgpack.packb({"type": "big", "body": b"x" * (2 * MAX)}),
    }


PAYLOADS = _payload_kinds()
FRAMES = {  # envelopes that are not one, whatever the payload
    "no separator": b"garbage",
    "one separator": b"123|abc",
    "expiry not a number": b"soon||\x80",
    "names not UTF-8": b"99999999999999|\xff\xfe|\x80",
    "empty": b"",
}


def _far() -> int:
    return now_ms() + 60_000


def _normal(payload: bytes) -> bytes:
    return b"%d||%s" % (_far(), payload)


def _inbox(channel: str, payload: bytes) -> bytes:
    return b"%d|%s|%s" % (_far(), channel.encode(), payload)


@pytest.fixture
def raw(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url)
    yield client
    client.close()


@pytest.fixture
async def layer(redis_server: RedisServer) -> AsyncIterator[RedisChannelLayer]:
    made = RedisChannelLayer(
        hosts=[redis_server.url], prefix=f"sec{secrets.token_hex(4)}", max_message_size=MAX
    )
    yield made
    await made.flush()
    await made.close()


def _keys(layer: RedisChannelLayer) -> KeyLayout:
    return KeyLayout(layer.prefix)


async def _receive(layer: RedisChannelLayer, channel: str, many: bool) -> dict[str, object]:
    if many:
        [message] = await asyncio.wait_for(layer.receive_many(channel, 10), T)
        return message
    return await asyncio.wait_for(layer.receive(channel), T)


@pytest.mark.parametrize("many", [False, True], ids=["receive", "receive_many"])
@pytest.mark.parametrize("bad", [*PAYLOADS, *FRAMES])
async def test_a_normal_channel_drops_the_bad_item_and_goes_on(
    layer: RedisChannelLayer, raw: redis.Redis, bad: str, many: bool
) -> None:
    item = _normal(PAYLOADS[bad]) if bad in PAYLOADS else FRAMES[bad]
    raw.rpush(_keys(layer).channel("sec.work"), item)
    await layer.send("sec.work", GOOD)
    assert await _receive(layer, "sec.work", many) == GOOD
    assert layer.describe()["dropped"] == {"malformed": 1}


@pytest.mark.parametrize("many", [False, True], ids=["receive", "receive_many"])
@pytest.mark.parametrize("bad", [*PAYLOADS, *FRAMES])
async def test_a_process_inbox_drops_the_bad_item_and_goes_on(
    layer: RedisChannelLayer, raw: redis.Redis, bad: str, many: bool
) -> None:
    own = await layer.new_channel("sec.")
    item = _inbox(own, PAYLOADS[bad]) if bad in PAYLOADS else FRAMES[bad]
    raw.rpush(_keys(layer).inbox(process_tag(own)), item)
    await layer.send(own, GOOD)
    assert await _receive(layer, own, many) == GOOD
    assert layer.describe()["dropped"] == {"malformed": 1}


@pytest.mark.parametrize(
    "names",
    ["", FOREIGN, "no.bang.at.all", "short!x"],
    ids=["no channel", "another process's", "not process-specific", "no token"],
)
@pytest.mark.parametrize("expired", [False, True], ids=["live", "expired"])
async def test_an_inbox_envelope_naming_no_channel_of_ours_is_dropped(
    layer: RedisChannelLayer, raw: redis.Redis, names: str, expired: bool
) -> None:
    own = await layer.new_channel("sec.")
    expires = now_ms() - 1 if expired else _far()
    envelope = b"%d|%s|%s" % (expires, names.encode(), encode({"type": "x"}, MAX))
    raw.rpush(_keys(layer).inbox(process_tag(own)), envelope)
    await layer.send(own, GOOD)
    assert await _receive(layer, own, False) == GOOD
    assert layer.describe()["dropped"] == {"malformed": 1}
    assert layer.describe()["buffered"] == {}  # nothing kept for a channel nobody owns


async def test_a_waiting_reader_takes_the_bad_item_then_the_good_one(
    layer: RedisChannelLayer, raw: redis.Redis
) -> None:
    # The pops are already parked when the bad items arrive: each reader gets one bad
    # item back from its blocking pop, drops it and pops again.
    own = await layer.new_channel("sec.")
    blocked = int(raw.info("clients")["blocked_clients"])
    inbox = asyncio.create_task(_receive(layer, own, False))
    normal = asyncio.create_task(_receive(layer, "sec.work", True))
    async with asyncio.timeout(T):  # a readiness probe of another process's state
        while int(raw.info("clients")["blocked_clients"]) < blocked + 2:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    raw.rpush(_keys(layer).inbox(process_tag(own)), _inbox(own, PAYLOADS["bare integer"]))
    raw.rpush(_keys(layer).channel("sec.work"), _normal(PAYLOADS["nested 100,000 deep"]))
    await layer.send(own, GOOD)
    await layer.send("sec.work", GOOD)
    assert await inbox == GOOD
    assert await normal == GOOD
    assert layer.describe()["dropped"] == {"malformed": 2}


async def test_a_flood_of_bad_items_costs_one_log_line_per_reader(
    redis_server: RedisServer, raw: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    prefix = f"sec{secrets.token_hex(4)}"
    layer = RedisChannelLayer(hosts=[redis_server.url], prefix=prefix, capacity=1000)
    own = await layer.new_channel("sec.")
    raw.rpush(_keys(layer).inbox(process_tag(own)), *[FRAMES["no separator"]] * 200)
    raw.rpush(_keys(layer).channel("sec.work"), *[_normal(PAYLOADS["bare integer"])] * 200)
    await layer.send(own, GOOD)
    await layer.send("sec.work", GOOD)
    with caplog.at_level(logging.WARNING, logger="telephonist.layer.redis"):
        assert await _receive(layer, own, True) == GOOD
        assert await _receive(layer, "sec.work", True) == GOOD
    assert layer.describe()["dropped"] == {"malformed": 400}
    lines = [r.getMessage() for r in caplog.records if "malformed" in r.getMessage()]
    assert len(lines) == 2, lines
    assert "the process inbox" in lines[0]
    assert "channel 'sec.work'" in lines[1]
    assert process_tag(own) not in " ".join(lines)  # a log reader learns no address
    await layer.flush()
    await layer.close()


async def test_a_buffered_bad_payload_is_dropped_when_taken(
    layer: RedisChannelLayer, raw: redis.Redis
) -> None:
    # Nobody waits when the envelopes arrive: they are buffered undecoded, and the bad
    # one is found (and the channel's count released) when a receive takes them.
    own = await layer.new_channel("sec.")
    key = _keys(layer).inbox(process_tag(own))
    raw.rpush(key, _inbox(own, PAYLOADS["bare integer"]), _inbox(own, encode(GOOD, MAX)))
    other = await layer.new_channel("sec.")  # the inbox reader runs from here on
    await layer.send(other, {"type": "sync"})
    assert await _receive(layer, other, False) == {"type": "sync"}
    assert await _receive(layer, own, True) == GOOD
    assert layer.describe()["dropped"] == {"malformed": 1}


async def test_a_key_of_the_wrong_type_is_reported_once_and_survived(
    redis_server: RedisServer, raw: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    # Someone SETs a channel's list key to a string: every pop is refused (WRONGTYPE)
    # and retried after the reconnect backoff; the log says so once, not per retry, and
    # the reader serves the channel again as soon as the key is a list again.
    layer = RedisChannelLayer(
        hosts=[redis_server.url], prefix=f"sec{secrets.token_hex(4)}", reconnect_max_delay=0.05
    )
    key = KeyLayout(layer.prefix).channel("sec.work")
    raw.set(key, "not a list")
    before = raw.info("commandstats").get("cmdstat_blmpop", {}).get("calls", 0)
    with caplog.at_level(logging.WARNING, logger="telephonist.layer.redis"):
        pending = asyncio.create_task(_receive(layer, "sec.work", False))
        async with asyncio.timeout(T):  # several refused pops: retried, not given up
            while raw.info("commandstats")["cmdstat_blmpop"]["calls"] < before + 5:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
        raw.delete(key)
        await layer.send("sec.work", GOOD)
        assert await pending == GOOD
    refused = [r for r in caplog.records if "refused by Redis" in r.getMessage()]
    assert len(refused) == 1
    assert "WRONGTYPE" in refused[0].getMessage()
    assert refused[0].exc_info is None  # expected trouble: a line, not a traceback
    await layer.flush()
    await layer.close()

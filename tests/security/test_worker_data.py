"""A worker keeps answering while its channel and its inbox are fed hostile data: every
malformed kind of ``test_layer_data`` is pushed straight into Redis, onto the shared
channel the worker's batch receive (``receive_many``) reads and onto its process inbox,
then the worker must still run a consumer for a good message and answer a status
request sent to its inbox; nothing reaches its receive loops as an error."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator

import pytest
import redis

from telephonist.affinity import control
from telephonist.config import WorkerSettings
from telephonist.consumers import Message
from telephonist.core.redis import RedisChannelLayer
from telephonist.core.redis.keys import KeyLayout, process_tag
from telephonist.routing import Router, route
from telephonist.worker import Worker
from tests.security.test_layer_data import FRAMES, MAX, PAYLOADS, T, _inbox, _normal
from tests.servers import RedisServer

pytestmark = pytest.mark.redis


async def echo(message: Message) -> None:
    await message.channel_layer.send(message["answer_to"], {"type": "echo", "n": message["n"]})


@pytest.fixture
async def layer(redis_server: RedisServer) -> AsyncIterator[RedisChannelLayer]:
    made = RedisChannelLayer(
        hosts=[redis_server.url],
        prefix=f"sec{secrets.token_hex(4)}",
        max_message_size=MAX,
        capacity=1000,
    )
    yield made
    await made.flush()
    await made.close()


async def test_a_worker_answers_through_a_flood_of_every_malformed_kind(
    layer: RedisChannelLayer, redis_server: RedisServer
) -> None:
    worker = Worker(layer, Router([route("sec.echo", echo)]), WorkerSettings(concurrency=4))
    await worker.start()
    raw = redis.Redis.from_url(redis_server.url)
    try:
        keys = KeyLayout(layer.prefix)
        inbox_key = keys.inbox(process_tag(worker.inbox))
        bad_count = 0
        for round_ in range(3):  # bad items before, between and after good ones
            for payload in PAYLOADS.values():
                raw.rpush(keys.channel("sec.echo"), _normal(payload))
                raw.rpush(inbox_key, _inbox(worker.inbox, payload))
                bad_count += 2
            for frame in FRAMES.values():
                raw.rpush(keys.channel("sec.echo"), frame)
                raw.rpush(inbox_key, frame)
                bad_count += 2
            answer_to = await layer.new_channel("test.")
            await layer.send("sec.echo", {"type": "ping", "n": round_, "answer_to": answer_to})
            assert await asyncio.wait_for(layer.receive(answer_to), T) == {
                "type": "echo",
                "n": round_,
            }
            await layer.send(worker.inbox, control.status_request(answer_to))
            status = await asyncio.wait_for(layer.receive(answer_to), T)
            assert status["type"] == control.STATUS
        # Every bad item was pushed before a good one on the same list: all were read
        # (and counted) before the answers came.
        assert layer.stats.get("malformed") == bad_count
        assert worker.counters["receive_errors"] == 0
    finally:
        raw.close()
        await worker.stop(drain_timeout=1)

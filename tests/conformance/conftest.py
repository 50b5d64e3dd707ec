"""Backends the conformance suite runs against.

Every Telephonist backend is listed here; ``TESTS_CONFORMANCE_LAYER`` adds a
third-party layer class by dotted path (for example
``channels_redis.core.RedisChannelLayer``) so the suite shows where it differs:
``TESTS_CONFORMANCE_LAYER=channels_redis.core.RedisChannelLayer pytest tests/conformance``.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from telephonist.core.layers import BaseChannelLayer, ChannelsLayerAdapter, InMemoryChannelLayer

LayerFactory = Callable[..., BaseChannelLayer]
Elapse = Callable[[float], Awaitable[None]]

BACKENDS = ["memory", "redis", "redis-cluster"]
_FOREIGN = os.environ.get("TESTS_CONFORMANCE_LAYER")
if _FOREIGN:
    BACKENDS.append(_FOREIGN)


def _foreign_factory(path: str, request: pytest.FixtureRequest) -> LayerFactory:
    module, _, attr = path.rpartition(".")
    cls = getattr(importlib.import_module(module), attr)
    server = request.getfixturevalue("redis_server")

    def make(**options: Any) -> BaseChannelLayer:
        options.pop("max_message_size", None)
        layer = cls(hosts=[server.url], prefix=f"t{secrets.token_hex(4)}", **options)
        return ChannelsLayerAdapter(layer)

    return make


@pytest.fixture
def redis_layer_factory(redis_server: Any) -> LayerFactory:
    """Redis layers on the session's private server, one key prefix per test, so tests
    never see each other's channels even though they share the server."""
    from telephonist.core.redis import RedisChannelLayer

    prefix = f"t{secrets.token_hex(4)}"

    def make(**options: Any) -> BaseChannelLayer:
        return RedisChannelLayer(hosts=[redis_server.url], prefix=prefix, **options)

    return make


@pytest.fixture
def redis_cluster_layer_factory(redis_cluster: Any) -> LayerFactory:
    """Redis layers on the session's three-node cluster, one key prefix per test."""
    from telephonist.core.redis import RedisChannelLayer

    prefix = f"t{secrets.token_hex(4)}"
    seeds = [node.url for node in redis_cluster]

    def make(**options: Any) -> BaseChannelLayer:
        return RedisChannelLayer(hosts=seeds, prefix=prefix, cluster=True, **options)

    return make


class FakeClock:
    """The in-memory layer's time, moved only by ``elapse``."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def elapse(make_layer: LayerFactory, clock: FakeClock, request: pytest.FixtureRequest) -> Elapse:
    """``await elapse(seconds)`` lets that much time pass for the layers under test: the
    in-memory layer's clock moves at once. The Redis layer's expiry is wall-clock time
    that its server-side scripts and every process compare (``core/redis/keys.py``), so
    there it is a real wait."""
    backend = request.node.callspec.params["make_layer"]

    async def elapse(seconds: float) -> None:
        if backend == "memory":
            clock.now += seconds
        else:
            await asyncio.sleep(seconds)  # the semantics under test is the passage of time

    return elapse


@pytest.fixture(params=BACKENDS)
async def make_layer(
    request: pytest.FixtureRequest, clock: FakeClock
) -> AsyncIterator[LayerFactory]:
    """``make_layer(**options)`` builds a fresh, empty layer of the backend under test."""
    made: list[BaseChannelLayer] = []
    backend: str = request.param
    if backend == "memory":

        def factory(**options: Any) -> BaseChannelLayer:
            return InMemoryChannelLayer(clock=clock, **options)
    elif backend == "redis":
        factory = request.getfixturevalue("redis_layer_factory")
    elif backend == "redis-cluster":
        factory = request.getfixturevalue("redis_cluster_layer_factory")
    else:
        factory = _foreign_factory(backend, request)

    def make(**options: Any) -> BaseChannelLayer:
        layer = factory(**options)
        made.append(layer)
        return layer

    yield make
    for layer in made:
        await layer.flush()
        await layer.close()


@pytest.fixture
def layer(make_layer: LayerFactory) -> BaseChannelLayer:
    return make_layer()

"""Backends the conformance suite runs against.

Every Telephonist backend is listed here; ``TESTS_CONFORMANCE_LAYER`` adds a
third-party layer class by dotted path (for example
``channels_redis.core.RedisChannelLayer``) so the suite shows where it differs:
``TESTS_CONFORMANCE_LAYER=channels_redis.core.RedisChannelLayer pytest tests/conformance``.
"""

from __future__ import annotations

import importlib
import os
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from telephonist.core.layers import BaseChannelLayer, ChannelsLayerAdapter, InMemoryChannelLayer

LayerFactory = Callable[..., BaseChannelLayer]

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


@pytest.fixture(params=BACKENDS)
async def make_layer(request: pytest.FixtureRequest) -> AsyncIterator[LayerFactory]:
    """``make_layer(**options)`` builds a fresh, empty layer of the backend under test."""
    made: list[BaseChannelLayer] = []
    backend: str = request.param
    if backend == "memory":

        def factory(**options: Any) -> BaseChannelLayer:
            return InMemoryChannelLayer(**options)
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

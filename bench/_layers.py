"""The layers under test: how to build each one, and how to put it away.

Every layer is built fresh for each measurement, with its own key prefix, and flushed and
closed afterwards, so no measurement sees another's keys, connections or background tasks.
Foreign layers (``channels_redis``, Channels' in-memory layer) are used as their users use
them, not through Telephonist's adapter, so the anchor figures carry no Telephonist cost.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "FULL_ERRORS",
    "Layer",
    "LayerSpec",
    "all_layers",
    "configure_django",
    "fresh_layer",
]

Message = dict[str, Any]


class Layer(Protocol):
    """The part of the Channels 4 layer contract the benchmark uses."""

    async def send(self, channel: str, message: Message) -> None: ...
    async def receive(self, channel: str) -> Message: ...
    async def new_channel(self, prefix: str = ...) -> str: ...
    async def group_add(self, group: str, channel: str) -> None: ...
    async def group_send(self, group: str, message: Message) -> None: ...
    async def flush(self) -> None: ...


Factory = Callable[[str, str], Any]  # (redis url, key prefix) -> layer


@dataclass(frozen=True)
class LayerSpec:
    name: str
    make: Factory | None  # None: not available, see ``missing``
    uses_redis: bool
    batch: bool  # has Telephonist's receive_many
    missing: str = ""

    def available(self, have_server: bool) -> bool:
        return self.make is not None and (have_server or not self.uses_redis)


def _full_errors() -> tuple[type[BaseException], ...]:
    from telephonist.core.exceptions import ChannelFull

    errors: list[type[BaseException]] = [ChannelFull]
    with contextlib.suppress(ImportError):
        from channels.exceptions import ChannelFull as ChannelsFull

        errors.append(ChannelsFull)
    return tuple(errors)


FULL_ERRORS = _full_errors()


def configure_django() -> None:
    """Channels reads Django settings; an empty configuration is all its layers need."""
    import django.conf

    if not django.conf.settings.configured:
        django.conf.settings.configure()


def _telephonist_memory(url: str, prefix: str) -> Any:
    from telephonist.core.memory import InMemoryChannelLayer

    return InMemoryChannelLayer()


def _telephonist_redis() -> tuple[Factory | None, str]:
    try:
        from telephonist.core.redis import RedisChannelLayer
    except Exception as exc:  # absent or half-written: report it, run the others
        return None, f"telephonist.core.redis not importable ({exc})"

    def make(url: str, prefix: str) -> Any:
        return RedisChannelLayer(hosts=[url], prefix=prefix)

    return make, ""


def _channels_redis_hosts(url: str) -> list[dict[str, Any]]:
    # redis-py 8 made socket_timeout default to 5 s, the same as channels_redis's
    # BZPOPMIN timeout, so a receive that waits 5 s raises TimeoutError
    # (django/channels_redis#422, open). This is the workaround given there.
    return [{"address": url, "socket_timeout": None}]


def _channels_redis_core(url: str, prefix: str) -> Any:
    from channels_redis.core import RedisChannelLayer

    return RedisChannelLayer(hosts=_channels_redis_hosts(url), prefix=prefix)


def _channels_redis_pubsub(url: str, prefix: str) -> Any:
    from channels_redis.pubsub import RedisPubSubChannelLayer

    return RedisPubSubChannelLayer(hosts=_channels_redis_hosts(url), prefix=prefix)


def _channels_memory(url: str, prefix: str) -> Any:
    from channels.layers import InMemoryChannelLayer

    return InMemoryChannelLayer()


def all_layers() -> list[LayerSpec]:
    redis_make, redis_missing = _telephonist_redis()
    return [
        LayerSpec("telephonist-memory", _telephonist_memory, uses_redis=False, batch=True),
        LayerSpec("telephonist-redis", redis_make, True, batch=True, missing=redis_missing),
        LayerSpec("channels_redis-core", _channels_redis_core, uses_redis=True, batch=False),
        LayerSpec("channels_redis-pubsub", _channels_redis_pubsub, uses_redis=True, batch=False),
        LayerSpec("channels-memory", _channels_memory, uses_redis=False, batch=False),
    ]


_prefixes = itertools.count()


async def _put_away(layer: Any) -> None:
    """Flush, then close whatever the layer has to close (Telephonist: ``close``;
    channels_redis core: ``close_pools``; pubsub's ``flush`` closes its connections)."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(layer.flush(), 10)
    close = getattr(type(layer), "close", None) or getattr(type(layer), "close_pools", None)
    if close is not None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(close(layer), 10)


@contextlib.asynccontextmanager
async def fresh_layer(spec: LayerSpec, url: str) -> AsyncIterator[Any]:
    assert spec.make is not None
    layer = spec.make(url, f"bench{next(_prefixes)}")
    try:
        yield layer
    finally:
        await _put_away(layer)

"""Class-based consumers: one method per message type, sync or async.

A subclass declares the channels it consumes and defines a method per message type,
named after the type with dots and hyphens as underscores (``websocket.receive`` ->
``websocket_receive(self, message, **kwargs)``). ``route_class(MyConsumer)`` routes it on
its channels; each message gets a fresh instance with ``self.message`` and
``self.kwargs`` (the route's named groups). ``BaseConsumer`` handlers run in a worker
thread, ``AsyncConsumer`` handlers on the event loop; the helpers (``reply``,
``send_to``, ``group_add``...) are the same for both: call them in sync code, await them
in async code.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Collection, Coroutine, Mapping
from typing import Any, ClassVar

from .channel import Channel, Group
from .exceptions import NoHandler
from .message import Message

__all__ = ["AsyncConsumer", "BaseConsumer", "ConsumerBase", "handler_name", "is_async_consumer"]


def handler_name(message_type: str) -> str | None:
    """``"websocket.receive"`` -> ``"websocket_receive"``; ``None`` for a type that must
    not name a method (no dot, or a leading underscore: ``__init__`` is not a handler)."""
    if "." not in message_type or message_type.startswith(("_", ".")):
        return None
    name = message_type.replace(".", "_").replace("-", "_")
    return name if name.isidentifier() else None


class ConsumerBase:
    """What sync and async class-based consumers share."""

    #: Channels this consumer is routed on by ``route_class``.
    channels: ClassVar[Collection[str]] = ()
    is_async: ClassVar[bool] = False

    def __init__(self, message: Message, **kwargs: str) -> None:
        self.message = message
        self.kwargs = kwargs

    @classmethod
    def channel_names(cls) -> set[str]:
        return set(cls.channels)

    def get_handler(self) -> Callable[..., Any]:
        """The method for this message: by its ``type``, else by its channel name."""
        for key in (self.message.type, self.message.channel.name):
            name = handler_name(key) if key else None
            handler: object = getattr(self, name, None) if name else None
            if callable(handler):
                return handler
        raise NoHandler(
            f"{type(self).__qualname__} has no handler for type {self.message.type!r} "
            f"on channel {self.message.channel.name!r}"
        )

    # -- sending: call in sync consumers, await in async ones -------------------------

    @property
    def reply_channel(self) -> Channel:
        channel = self.message.reply_channel
        if channel is None:
            raise LookupError(f"message on {self.message.channel.name!r} has no reply_channel")
        return channel

    def reply(self, content: Mapping[str, Any]) -> Awaitable[None]:
        """Send ``content`` to the reply channel of the message being consumed."""
        return self.reply_channel.send(content)

    def send_to(self, channel: Channel | str, content: Mapping[str, Any]) -> Awaitable[None]:
        layer = self.message.channel_layer
        target = channel if isinstance(channel, Channel) else Channel(channel, layer)
        return target.send(content)

    def group_add(self, group: str, channel: Channel | str | None = None) -> Awaitable[None]:
        """Add ``channel`` (default: this message's reply channel) to ``group``."""
        return Group(group, self.message.channel_layer).add(channel or self.reply_channel)

    def group_discard(self, group: str, channel: Channel | str | None = None) -> Awaitable[None]:
        return Group(group, self.message.channel_layer).discard(channel or self.reply_channel)

    def group_send(self, group: str, content: Mapping[str, Any]) -> Awaitable[None]:
        return Group(group, self.message.channel_layer).send(content)


def _wrap(cls: type[ConsumerBase], consumer: Callable[..., Any]) -> Callable[..., Any]:
    # Named after the class so logs and route descriptions show the class, not a closure.
    consumer.__name__ = cls.__name__
    consumer.__qualname__ = cls.__qualname__
    consumer.__module__ = cls.__module__
    consumer.__doc__ = cls.__doc__
    consumer.consumer_class = cls  # type: ignore[attr-defined]
    consumer.is_async = cls.is_async  # type: ignore[attr-defined]
    return consumer


class BaseConsumer(ConsumerBase):
    """Sync class-based consumer: handlers run in a worker thread."""

    is_async: ClassVar[bool] = False

    @classmethod
    def as_consumer(cls) -> Callable[..., None]:
        def consumer(message: Message, **kwargs: str) -> None:
            cls(message, **kwargs).dispatch()

        return _wrap(cls, consumer)

    def dispatch(self) -> None:
        self.get_handler()(self.message, **self.kwargs)


class AsyncConsumer(ConsumerBase):
    """Async class-based consumer: handlers are coroutines run on the event loop."""

    is_async: ClassVar[bool] = True

    @classmethod
    def as_consumer(cls) -> Callable[..., Coroutine[Any, Any, None]]:
        async def consumer(message: Message, **kwargs: str) -> None:
            await cls(message, **kwargs).dispatch()

        return _wrap(cls, consumer)

    async def dispatch(self) -> None:
        await self.get_handler()(self.message, **self.kwargs)


def is_async_consumer(consumer: object) -> bool:
    """Whether the Dispatcher must await ``consumer`` on the loop (else: a thread)."""
    flag = getattr(consumer, "is_async", None)
    if isinstance(flag, bool):
        return flag
    if _is_coroutine_function(consumer):
        return True
    if inspect.isclass(consumer) or inspect.isroutine(consumer):
        return False
    if isinstance(consumer, functools.partial):
        return is_async_consumer(consumer.func)
    return _is_coroutine_function(getattr(consumer, "__call__", None))  # noqa: B004


def _is_coroutine_function(func: object) -> bool:
    # inspect covers functions, methods and partials; asgiref's sync_to_async wrappers
    # (Python < 3.12) only carry asyncio's ``_is_coroutine`` marker.
    return inspect.iscoroutinefunction(func) or getattr(func, "_is_coroutine", None) is not None

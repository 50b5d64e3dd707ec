"""Class-based consumers: one method per message type, sync or async.

A subclass declares the channels it consumes and defines a method per message type,
named by Channels' rule: the type with dots as underscores (``websocket.receive`` ->
``websocket_receive(self, message, **kwargs)``, ``chat.message`` -> ``chat_message``);
hyphens, which Telephonist's protocol names use (``irc-client.receive``), become
underscores too. ``route_class(MyConsumer)`` routes it on its channels; each message
gets a fresh instance with ``self.message`` and ``self.kwargs`` (the route's named
groups).

Two kinds, with Channels' names: ``SyncConsumer`` handlers run in a worker thread,
``AsyncConsumer`` handlers on the event loop. Their helpers (``reply``, ``send_to``,
``group_add``...) do the same thing in the kind's own way: a ``SyncConsumer``'s block and
return ``None``, an ``AsyncConsumer``'s are coroutines, so mypy flags a forgotten
``await`` (``unused-coroutine``) where a message would otherwise silently not be sent.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Collection, Coroutine, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from ..core.deprecation import deprecated_names
from .channel import AsyncChannel, AsyncGroup, Channel, Group
from .context import Done
from .exceptions import NoHandler
from .message import AsyncMessage, Message

__all__ = ["AsyncConsumer", "SyncConsumer", "handler_name", "is_async_consumer"]


def handler_name(message_type: str) -> str | None:
    """``"websocket.receive"`` -> ``"websocket_receive"``; ``None`` for a type that cannot
    name a method (a leading underscore: ``__init__`` is not a handler)."""
    if not message_type or message_type.startswith(("_", ".")):
        return None
    name = message_type.replace(".", "_").replace("-", "_")
    return name if name.isidentifier() else None


class _Consumer:
    """What the two kinds share: routing metadata, the message, finding the handler."""

    #: Channels this consumer is routed on by ``route_class``.
    channels: ClassVar[Collection[str]] = ()
    is_async: ClassVar[bool] = False
    #: ``True``: an async consumer whose client leaves (an ``http.disconnect`` arriving
    #: while it runs) is cancelled where it waits, as Django cancels an async view; off
    #: by default (``consumers.interrupt`` says why). Sync consumers cannot be.
    interruptible: ClassVar[bool] = False

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
            if name is not None and _is_handler(type(self), name):
                handler: object = getattr(self, name, None)
                if callable(handler):
                    return handler
        raise NoHandler(
            f"{type(self).__qualname__} has no handler for type {self.message.type!r} "
            f"on channel {self.message.channel.name!r}"
        )

    @property
    def reply_channel(self) -> Channel:
        channel = self.message.reply_channel
        if channel is None:
            raise LookupError(f"message on {self.message.channel.name!r} has no reply_channel")
        return channel


_handlers: dict[tuple[type, str], bool] = {}


def _is_handler(cls: type, name: str) -> bool:
    try:
        return _handlers[cls, name]
    except KeyError:
        answer = _handlers[cls, name] = _may_handle(cls, name)
        return answer


def _may_handle(cls: type, name: str) -> bool:
    """Whether a message type may call ``cls``'s attribute ``name``.

    Any method the user wrote may be a handler (``chat_message`` for ``chat.message``,
    or for Channels' older dotless ``chat_message`` type). Of Telephonist's own methods,
    only those named after a channel their class declares are (``websocket_receive``):
    a message type is data, and ``{"type": "reply"}`` or ``{"type": "group.send"}`` must
    not reach a helper.
    """
    for klass in cls.__mro__:
        if name in vars(klass):
            if not klass.__module__.startswith("telephonist."):
                return True
            declared: Collection[str] = getattr(klass, "channels", ())
            return any(handler_name(channel) == name for channel in declared)
    return False


def _wrap(cls: type[_Consumer], consumer: Callable[..., Any]) -> Callable[..., Any]:
    # Named after the class so logs and route descriptions show the class, not a closure.
    consumer.__name__ = cls.__name__
    consumer.__qualname__ = cls.__qualname__
    consumer.__module__ = cls.__module__
    consumer.__doc__ = cls.__doc__
    consumer.consumer_class = cls  # type: ignore[attr-defined]
    consumer.is_async = cls.is_async  # type: ignore[attr-defined]
    return consumer


def _blocking(sent: Awaitable[None]) -> None:
    """Finish a send made from sync code: a worker thread has already completed it."""
    if not isinstance(sent, Done):
        if isinstance(sent, Coroutine):
            sent.close()
        raise RuntimeError(
            "a SyncConsumer's sends block: run it in a worker thread (route it), not on "
            "the event loop; async code wants an AsyncConsumer"
        )


class SyncConsumer(_Consumer):
    """Sync class-based consumer: handlers run in a worker thread, sends block."""

    is_async: ClassVar[bool] = False

    @classmethod
    def as_consumer(cls) -> Callable[..., None]:
        def consumer(message: Message, **kwargs: str) -> None:
            cls(message, **kwargs).dispatch()

        return _wrap(cls, consumer)

    def dispatch(self) -> None:
        self.get_handler()(self.message, **self.kwargs)

    def reply(self, content: Mapping[str, Any]) -> None:
        """Send ``content`` to the reply channel of the message being consumed."""
        _blocking(self.reply_channel.send(content))

    def send_to(self, channel: Channel | str, content: Mapping[str, Any]) -> None:
        layer = self.message.channel_layer
        target = channel if isinstance(channel, Channel) else Channel(channel, layer)
        _blocking(target.send(content))

    def group_add(self, group: str, channel: Channel | str | None = None) -> None:
        """Add ``channel`` (default: this message's reply channel) to ``group``."""
        _blocking(Group(group, self.message.channel_layer).add(channel or self.reply_channel))

    def group_discard(self, group: str, channel: Channel | str | None = None) -> None:
        _blocking(Group(group, self.message.channel_layer).discard(channel or self.reply_channel))

    def group_send(self, group: str, content: Mapping[str, Any]) -> None:
        _blocking(Group(group, self.message.channel_layer).send(content))


class AsyncConsumer(_Consumer):
    """Async class-based consumer: handlers are coroutines run on the event loop, and
    so are its sends (await them)."""

    is_async: ClassVar[bool] = True
    message: AsyncMessage

    @classmethod
    def as_consumer(cls) -> Callable[..., Coroutine[Any, Any, None]]:
        async def consumer(message: AsyncMessage, **kwargs: str) -> None:
            await cls(message, **kwargs).dispatch()

        return _wrap(cls, consumer)

    async def dispatch(self) -> None:
        await self.get_handler()(self.message, **self.kwargs)

    async def reply(self, content: Mapping[str, Any]) -> None:
        """Send ``content`` to the reply channel of the message being consumed."""
        await self.reply_channel.send(content)

    async def send_to(self, channel: Channel | str, content: Mapping[str, Any]) -> None:
        name = channel.name if isinstance(channel, Channel) else channel
        await AsyncChannel(name, self.message.channel_layer).send(content)

    async def group_add(self, group: str, channel: Channel | str | None = None) -> None:
        """Add ``channel`` (default: this message's reply channel) to ``group``."""
        await AsyncGroup(group, self.message.channel_layer).add(channel or self.reply_channel)

    async def group_discard(self, group: str, channel: Channel | str | None = None) -> None:
        await AsyncGroup(group, self.message.channel_layer).discard(channel or self.reply_channel)

    async def group_send(self, group: str, content: Mapping[str, Any]) -> None:
        await AsyncGroup(group, self.message.channel_layer).send(content)


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


if TYPE_CHECKING:
    BaseConsumer = SyncConsumer
    ConsumerBase = _Consumer

# Until 0.2: ``BaseConsumer`` (Channels 1's sync base) is ``SyncConsumer`` now;
# ``ConsumerBase`` was the shared base, which is no kind of consumer to subclass.
__getattr__ = deprecated_names(
    __name__,
    {
        "BaseConsumer": ("telephonist.consumers.SyncConsumer", lambda: SyncConsumer),
        "ConsumerBase": (
            "telephonist.consumers.SyncConsumer or AsyncConsumer",
            lambda: _Consumer,
        ),
    },
)

"""Consumers: the code that answers messages, sync or async, functions or classes.

A function consumer is ``consumer(message, **kwargs)`` (``def`` or ``async def``); it
reads ``message.content`` and answers with ``message.reply_channel.send({...})``,
``Channel(name).send({...})`` and ``Group(name).add/discard/send(...)``. Those calls
work the same from both kinds: call them in a sync consumer, await them in an async one
(annotate an async consumer's argument ``AsyncMessage`` and mypy checks the awaits).
Class-based consumers have Channels' names (``SyncConsumer``, ``AsyncConsumer`` and the
generic WebSocket, HTTP and chat ones) and are routed with ``route_class``.

This package exports the consumer API only; what the worker and the test tools use to
run consumers is in :mod:`telephonist.consumers.context`.
"""

from typing import TYPE_CHECKING

from ..core.deprecation import deprecated_names
from . import base, context
from .base import AsyncConsumer, SyncConsumer, handler_name
from .bridge import ChatBridge
from .bridge_links import Endpoint, Links
from .bridge_store import BridgeStore, MemoryStore
from .channel import AsyncChannel, AsyncGroup, Channel, Group
from .chat import AsyncChatConsumer, ChatConsumer
from .chat_registry import (
    ChatProtocol,
    chat_protocols,
    register_chat_protocol,
    room_group,
    unregister_chat_protocol,
)
from .exceptions import ConsumeLater, DenyConnection, NoHandler
from .http import AsyncHttpConsumer, HttpConsumer, response_messages
from .message import AsyncMessage, Message
from .signals import Signal, consumer_finished, consumer_started
from .websocket import (
    AsyncJsonWebsocketConsumer,
    AsyncWebsocketConsumer,
    JsonWebsocketConsumer,
    WebsocketConsumer,
)

__all__ = [
    "AsyncChannel",
    "AsyncChatConsumer",
    "AsyncConsumer",
    "AsyncGroup",
    "AsyncHttpConsumer",
    "AsyncJsonWebsocketConsumer",
    "AsyncMessage",
    "AsyncWebsocketConsumer",
    "BridgeStore",
    "Channel",
    "ChatBridge",
    "ChatConsumer",
    "ChatProtocol",
    "ConsumeLater",
    "DenyConnection",
    "Endpoint",
    "Group",
    "HttpConsumer",
    "JsonWebsocketConsumer",
    "Links",
    "MemoryStore",
    "Message",
    "NoHandler",
    "Signal",
    "SyncConsumer",
    "WebsocketConsumer",
    "chat_protocols",
    "consumer_finished",
    "consumer_started",
    "handler_name",
    "register_chat_protocol",
    "response_messages",
    "room_group",
    "unregister_chat_protocol",
]

if TYPE_CHECKING:
    from .base import is_async_consumer as is_async_consumer
    from .context import consumer_context as consumer_context
    from .context import get_current_layer as get_current_layer
    from .context import release_sync_layer as release_sync_layer
    from .context import set_default_layer as set_default_layer

    BaseConsumer = SyncConsumer
    ConsumerBase = base._Consumer

# Old names users may have typed, until 0.2: Channels' class names, and the worker's
# plumbing that used to be exported here (it now lives where the worker imports it).
__getattr__ = deprecated_names(
    __name__,
    {
        "BaseConsumer": ("telephonist.consumers.SyncConsumer", lambda: SyncConsumer),
        "ConsumerBase": (
            "telephonist.consumers.SyncConsumer or AsyncConsumer",
            lambda: base._Consumer,
        ),
        "consumer_context": (
            "telephonist.consumers.context.consumer_context",
            lambda: context.consumer_context,
        ),
        "get_current_layer": (
            "telephonist.consumers.context.get_current_layer",
            lambda: context.get_current_layer,
        ),
        "is_async_consumer": (
            "telephonist.consumers.base.is_async_consumer",
            lambda: base.is_async_consumer,
        ),
        "release_sync_layer": (
            "telephonist.core.sync.release_sync_layer",
            lambda: context.release_sync_layer,
        ),
        "set_default_layer": (
            "telephonist.consumers.context.set_default_layer",
            lambda: context.set_default_layer,
        ),
    },
)

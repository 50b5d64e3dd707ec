"""Consumers: the code that answers messages, sync or async, functions or classes.

A function consumer is ``consumer(message, **kwargs)`` (``def`` or ``async def``); it
reads ``message.content`` and answers with ``message.reply_channel.send({...})``,
``Channel(name).send({...})`` and ``Group(name).add/discard/send(...)``. Those calls
work the same from both kinds: call them in a sync consumer, await them in an async one.
Class-based consumers (``BaseConsumer``, ``AsyncConsumer`` and the generic WebSocket,
HTTP and chat ones) are routed with ``route_class``.
"""

from ._context import consumer_context, get_current_layer, release_sync_layer, set_default_layer
from .base import AsyncConsumer, BaseConsumer, ConsumerBase, handler_name, is_async_consumer
from .channel import Channel, Group
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
from .message import Message
from .signals import Signal, consumer_finished, consumer_started
from .websocket import (
    AsyncJsonWebsocketConsumer,
    AsyncWebsocketConsumer,
    JsonWebsocketConsumer,
    WebsocketConsumer,
)

__all__ = [
    "AsyncChatConsumer",
    "AsyncConsumer",
    "AsyncHttpConsumer",
    "AsyncJsonWebsocketConsumer",
    "AsyncWebsocketConsumer",
    "BaseConsumer",
    "Channel",
    "ChatConsumer",
    "ChatProtocol",
    "ConsumeLater",
    "ConsumerBase",
    "DenyConnection",
    "Group",
    "HttpConsumer",
    "JsonWebsocketConsumer",
    "Message",
    "NoHandler",
    "Signal",
    "WebsocketConsumer",
    "chat_protocols",
    "consumer_context",
    "consumer_finished",
    "consumer_started",
    "get_current_layer",
    "handler_name",
    "is_async_consumer",
    "register_chat_protocol",
    "release_sync_layer",
    "response_messages",
    "room_group",
    "set_default_layer",
    "unregister_chat_protocol",
]

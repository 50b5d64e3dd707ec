"""Generic WebSocket consumers, on the ASGI ``websocket.*`` messages.

Override ``connect`` (default: accept), ``receive(text_data=None, bytes_data=None)`` and
``disconnect(code)``; answer with ``send(text_data=..., bytes_data=..., close=...)``,
``accept()`` and ``close(code)``. Groups named in ``groups`` (or returned by
``connection_groups()``, which can use the route's keyword arguments) are joined on
connect and left on disconnect, so ``Group(name).send(...)`` reaches every socket.
The JSON variants decode text frames into ``receive_json(content)`` and add
``send_json``. Names follow Channels 4, so its consumers port with few changes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, ClassVar

from ..core.codec import Content
from ..spec.websocket import ACCEPT, CLOSE, EVENT_CHANNELS, SEND
from .base import AsyncConsumer, SyncConsumer
from .message import Message

__all__ = [
    "AsyncJsonWebsocketConsumer",
    "AsyncWebsocketConsumer",
    "JsonWebsocketConsumer",
    "WebsocketConsumer",
]

_CHANNELS = EVENT_CHANNELS


def _accept(subprotocol: str | None, headers: Sequence[tuple[bytes, bytes]]) -> Content:
    message: Content = {"type": ACCEPT}
    if subprotocol is not None:
        message["subprotocol"] = subprotocol
    if headers:
        message["headers"] = [list(h) for h in headers]
    return message


def _frame(text_data: str | None, bytes_data: bytes | None) -> Content:
    if (text_data is None) == (bytes_data is None):
        raise ValueError("send exactly one of text_data or bytes_data")
    if text_data is not None:
        return {"type": SEND, "text": text_data}
    return {"type": SEND, "bytes": bytes_data}


def _close(code: int | None, reason: str | None) -> Content:
    message: Content = {"type": CLOSE, "code": 1000 if code is None else code}
    if reason:
        message["reason"] = reason
    return message


class WebsocketConsumer(SyncConsumer):
    """Sync WebSocket consumer (handlers run in a worker thread)."""

    channels: ClassVar[Sequence[str]] = _CHANNELS
    groups: ClassVar[Sequence[str]] = ()

    def connection_groups(self) -> Sequence[str]:
        return self.groups

    def websocket_connect(self, message: Message, **kwargs: str) -> None:
        for group in self.connection_groups():
            self.group_add(group)
        self.connect()

    def websocket_receive(self, message: Message, **kwargs: str) -> None:
        text = message.get("text")
        if text is not None:
            self.receive(text_data=text)
        else:
            self.receive(bytes_data=message.get("bytes"))

    def websocket_disconnect(self, message: Message, **kwargs: str) -> None:
        for group in self.connection_groups():
            self.group_discard(group)
        self.disconnect(message.get("code", 1000))

    def connect(self) -> None:
        self.accept()

    def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Called for each frame; the default ignores it."""

    def disconnect(self, code: int) -> None:
        """Called once the socket is closed; the default does nothing."""

    def accept(
        self, subprotocol: str | None = None, headers: Sequence[tuple[bytes, bytes]] = ()
    ) -> None:
        self.reply(_accept(subprotocol, headers))

    def send(
        self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False
    ) -> None:
        self.reply(_frame(text_data, bytes_data))
        if close:
            self.close()

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        self.reply(_close(code, reason))


class JsonWebsocketConsumer(WebsocketConsumer):
    """Sync WebSocket consumer speaking JSON in text frames."""

    def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None:
            raise ValueError("JsonWebsocketConsumer received a binary frame")
        self.receive_json(self.decode_json(text_data))

    def receive_json(self, content: Any) -> None:
        """Called with each decoded frame; the default ignores it."""

    def send_json(self, content: Any, close: bool = False) -> None:
        self.send(text_data=self.encode_json(content), close=close)

    @classmethod
    def decode_json(cls, text_data: str) -> Any:
        return json.loads(text_data)

    @classmethod
    def encode_json(cls, content: Any) -> str:
        return json.dumps(content)


class AsyncWebsocketConsumer(AsyncConsumer):
    """Async WebSocket consumer (handlers run on the event loop)."""

    channels: ClassVar[Sequence[str]] = _CHANNELS
    groups: ClassVar[Sequence[str]] = ()

    def connection_groups(self) -> Sequence[str]:
        return self.groups

    async def websocket_connect(self, message: Message, **kwargs: str) -> None:
        for group in self.connection_groups():
            await self.group_add(group)
        await self.connect()

    async def websocket_receive(self, message: Message, **kwargs: str) -> None:
        text = message.get("text")
        if text is not None:
            await self.receive(text_data=text)
        else:
            await self.receive(bytes_data=message.get("bytes"))

    async def websocket_disconnect(self, message: Message, **kwargs: str) -> None:
        for group in self.connection_groups():
            await self.group_discard(group)
        await self.disconnect(message.get("code", 1000))

    async def connect(self) -> None:
        await self.accept()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Called for each frame; the default ignores it."""

    async def disconnect(self, code: int) -> None:
        """Called once the socket is closed; the default does nothing."""

    async def accept(
        self, subprotocol: str | None = None, headers: Sequence[tuple[bytes, bytes]] = ()
    ) -> None:
        await self.reply(_accept(subprotocol, headers))

    async def send(
        self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False
    ) -> None:
        await self.reply(_frame(text_data, bytes_data))
        if close:
            await self.close()

    async def close(self, code: int | None = None, reason: str | None = None) -> None:
        await self.reply(_close(code, reason))


class AsyncJsonWebsocketConsumer(AsyncWebsocketConsumer):
    """Async WebSocket consumer speaking JSON in text frames."""

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None:
            raise ValueError("AsyncJsonWebsocketConsumer received a binary frame")
        await self.receive_json(self.decode_json(text_data))

    async def receive_json(self, content: Any) -> None:
        """Called with each decoded frame; the default ignores it."""

    async def send_json(self, content: Any, close: bool = False) -> None:
        await self.send(text_data=self.encode_json(content), close=close)

    @classmethod
    def decode_json(cls, text_data: str) -> Any:
        return json.loads(text_data)

    @classmethod
    def encode_json(cls, content: Any) -> str:
        return json.dumps(content)

"""Generic HTTP consumers, on the ASGI ``http.*`` messages.

Override ``handle(body)`` and answer with ``send_response(status, body, headers)`` (or
``send_headers`` then ``send_body`` chunks to stream). A request body that arrives in
several ``http.request`` messages (``more_body``) is collected first; this relies on
connection affinity (every message of one request reaches the same worker, in order),
and is bounded by ``max_body_size`` (413 beyond) and ``max_pending`` requests in flight.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import ClassVar

from ..core.codec import Content
from ..spec.http import EVENT_CHANNELS, RESPONSE_BODY, RESPONSE_START
from .base import AsyncConsumer, SyncConsumer, _Consumer
from .message import Message

__all__ = ["AsyncHttpConsumer", "HttpConsumer", "response_messages"]

Headers = Sequence[tuple[bytes | str, bytes | str]]

_lock = threading.Lock()
_pending: OrderedDict[tuple[type, str], bytearray] = OrderedDict()


def _bytes(value: bytes | str) -> bytes:
    return value.encode("latin-1") if isinstance(value, str) else value


def response_messages(status: int, body: bytes = b"", headers: Headers = ()) -> list[Content]:
    """The ``http.response.start`` and ``http.response.body`` messages of a response."""
    return [
        {
            "type": RESPONSE_START,
            "status": status,
            "headers": [[_bytes(k).lower(), _bytes(v)] for k, v in headers],
        },
        {"type": RESPONSE_BODY, "body": body, "more_body": False},
    ]


class _TooLarge(Exception):
    pass


_TOO_LARGE = response_messages(413, b"Request body too large", [(b"content-type", b"text/plain")])


class _BodyMixin(_Consumer):
    channels: ClassVar[Sequence[str]] = EVENT_CHANNELS
    max_body_size: ClassVar[int] = 10 * 1024 * 1024
    max_pending: ClassVar[int] = 1000

    def _collect(self, message: Message) -> bytes | None:
        """The whole body once its last chunk is here; ``None`` while more is coming."""
        chunk = bytes(message.get("body") or b"")
        more = bool(message.get("more_body", False))
        key = (type(self), self.reply_channel.name)
        with _lock:  # sync consumers of several requests run in several threads
            buffer = _pending.pop(key, None)
            if buffer is None and not more and len(chunk) <= self.max_body_size:
                return chunk
            buffer = (buffer or bytearray()) + chunk
            if len(buffer) > self.max_body_size:
                raise _TooLarge
            if not more:
                return bytes(buffer)
            _pending[key] = buffer
            while len(_pending) > self.max_pending:
                _pending.popitem(last=False)  # oldest: its client has most likely gone
            return None

    def _forget(self) -> None:
        with _lock:
            _pending.pop((type(self), self.reply_channel.name), None)


class HttpConsumer(_BodyMixin, SyncConsumer):
    """Sync HTTP consumer: implement ``handle(body)``."""

    def http_request(self, message: Message, **kwargs: str) -> None:
        try:
            body = self._collect(message)
        except _TooLarge:
            for reply in _TOO_LARGE:
                self.reply(reply)
            return
        if body is not None:
            self.handle(body)

    def http_disconnect(self, message: Message, **kwargs: str) -> None:
        self._forget()

    def handle(self, body: bytes) -> None:
        raise NotImplementedError(f"{type(self).__qualname__} must implement handle(body)")

    def send_response(self, status: int, body: bytes = b"", headers: Headers = ()) -> None:
        for reply in response_messages(status, body, headers):
            self.reply(reply)

    def send_headers(self, status: int = 200, headers: Headers = ()) -> None:
        self.reply(response_messages(status, b"", headers)[0])

    def send_body(self, body: bytes, *, more_body: bool = False) -> None:
        self.reply({"type": RESPONSE_BODY, "body": body, "more_body": more_body})


class AsyncHttpConsumer(_BodyMixin, AsyncConsumer):
    """Async HTTP consumer: implement ``async handle(body)``."""

    async def http_request(self, message: Message, **kwargs: str) -> None:
        try:
            body = self._collect(message)
        except _TooLarge:
            for reply in _TOO_LARGE:
                await self.reply(reply)
            return
        if body is not None:
            await self.handle(body)

    async def http_disconnect(self, message: Message, **kwargs: str) -> None:
        self._forget()

    async def handle(self, body: bytes) -> None:
        raise NotImplementedError(f"{type(self).__qualname__} must implement handle(body)")

    async def send_response(self, status: int, body: bytes = b"", headers: Headers = ()) -> None:
        for reply in response_messages(status, body, headers):
            await self.reply(reply)

    async def send_headers(self, status: int = 200, headers: Headers = ()) -> None:
        await self.reply(response_messages(status, b"", headers)[0])

    async def send_body(self, body: bytes, *, more_body: bool = False) -> None:
        await self.reply({"type": RESPONSE_BODY, "body": body, "more_body": more_body})

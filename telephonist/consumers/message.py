"""``Message``: what a consumer receives (Channels 1's name, with ``.content`` and
``.reply_channel``), and ``AsyncMessage``, the same for async consumers.

The Dispatcher gives async consumers an ``AsyncMessage``: its channels are
``AsyncChannel``s, whose sends are coroutines, so annotating an ``async def`` consumer's
argument ``AsyncMessage`` lets mypy flag a forgotten ``await``. At run time both work
either way; the annotation is what changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from ..core.base import BaseChannelLayer
from ..core.codec import Content
from .channel import AsyncChannel, Channel

__all__ = ["AsyncMessage", "Message"]


class Message:
    """One message taken from ``channel``, with its reply channel when it has one.

    ``message["text"]``, ``message.get("user")`` and ``"room" in message`` read the
    content; ``message.reply_channel.send({...})`` answers the connection it came from.
    Attributes may be added (session decorators do), so this is a plain class.
    """

    _channel_class: ClassVar[type[Channel]] = Channel

    def __init__(
        self, content: Content, channel_name: str, channel_layer: BaseChannelLayer
    ) -> None:
        self.content = content
        make = self._channel_class
        self.channel = make(channel_name, channel_layer)
        self.channel_layer = channel_layer
        reply = content.get("reply_channel")
        self.reply_channel: Channel | None = (
            make(reply, channel_layer) if isinstance(reply, str) and reply else None
        )

    @property
    def type(self) -> str | None:
        """The message's ``type`` key (``"websocket.receive"``...), if it has one."""
        value = self.content.get("type")
        return value if isinstance(value, str) else None

    def __getitem__(self, key: str) -> Any:
        return self.content[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.content.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self.content

    def __iter__(self) -> Iterator[str]:
        return iter(self.content)

    def keys(self) -> Any:
        return self.content.keys()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(channel={self.channel.name!r}, content={self.content!r})"


class AsyncMessage(Message):
    """A ``Message`` whose channels are ``AsyncChannel``s (``await`` their sends)."""

    _channel_class: ClassVar[type[Channel]] = AsyncChannel
    channel: AsyncChannel
    reply_channel: AsyncChannel | None

"""``Message``: what a consumer receives."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..core.base import BaseChannelLayer
from .channel import Channel

__all__ = ["Message"]


class Message:
    """One message taken from ``channel``, with its reply channel when it has one.

    ``message["text"]``, ``message.get("user")`` and ``"room" in message`` read the
    content; ``message.reply_channel.send({...})`` answers the connection it came from.
    Attributes may be added (session decorators do), so this is a plain class.
    """

    def __init__(
        self, content: dict[str, Any], channel_name: str, channel_layer: BaseChannelLayer
    ) -> None:
        self.content = content
        self.channel = Channel(channel_name, channel_layer)
        self.channel_layer = channel_layer
        reply = content.get("reply_channel")
        self.reply_channel: Channel | None = (
            Channel(reply, channel_layer) if isinstance(reply, str) and reply else None
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
        return f"Message(channel={self.channel.name!r}, content={self.content!r})"

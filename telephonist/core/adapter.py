"""Use any Channels 4 layer (``channels_redis``, Channels' in-memory one) as a Telephonist
backend: the adapter supplies the batch operations on top of the plain contract."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .base import BaseChannelLayer
from .codec import Content
from .exceptions import ChannelFull
from .names import require_valid_channel_name, require_valid_group_name

__all__ = ["ChannelsLayerAdapter"]


class ChannelsLayerAdapter(BaseChannelLayer):
    """Wraps a foreign layer object that implements Channels' ``BaseChannelLayer``."""

    def __init__(self, layer: Any) -> None:
        super().__init__(
            expiry=getattr(layer, "expiry", 60),
            group_expiry=getattr(layer, "group_expiry", 86400),
            capacity=getattr(layer, "capacity", 100),
        )
        self.wrapped = layer
        self.extensions = list(getattr(layer, "extensions", []))  # type: ignore[misc]

    async def send(self, channel: str, message: Content) -> None:
        try:
            await self.wrapped.send(channel, message)
        except ChannelFull:
            self.stats.incr("full")
            raise
        except Exception as exc:
            # Foreign layers raise Channels' own ChannelFull, which ours subclasses, not
            # the other way round: translate so callers need to know only ours.
            if type(exc).__name__ == "ChannelFull":
                self.stats.incr("full")
                raise ChannelFull(str(exc)) from exc
            raise

    async def receive(self, channel: str) -> Content:
        message: Content = await self.wrapped.receive(channel)
        return message

    async def new_channel(self, prefix: str = "specific.") -> str:
        name: str = await self.wrapped.new_channel(prefix)
        return name

    async def group_add(self, group: str, channel: str) -> None:
        await self.wrapped.group_add(group, channel)

    async def group_discard(self, group: str, channel: str) -> None:
        await self.wrapped.group_discard(group, channel)

    async def group_send(self, group: str, message: Content) -> None:
        await self.wrapped.group_send(group, message)

    async def group_send_many(self, groups: Iterable[str], message: Content) -> None:
        # Foreign layers cannot de-duplicate across groups; each group is sent on its own.
        for group in groups:
            require_valid_group_name(group)
            await self.wrapped.group_send(group, message)

    async def send_many(self, messages: Sequence[tuple[str, Content]]) -> list[bool]:
        for channel, _ in messages:
            require_valid_channel_name(channel)
        return await super().send_many(messages)

    async def flush(self) -> None:
        await self.wrapped.flush()

    async def close(self) -> None:
        close = getattr(self.wrapped, "close", None) or getattr(self.wrapped, "close_pools", None)
        if close is not None:
            await close()

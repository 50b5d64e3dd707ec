"""``Channel`` and ``Group``: the names consumers send to.

Every operation of ``Channel`` and ``Group`` returns an awaitable and is correct both
ways (see ``context``): ``Channel("log").send({...})`` in sync code, ``await
Channel("log").send({...})`` in async code. Without ``layer=`` they use the layer of the
consumer being run.

``AsyncChannel`` and ``AsyncGroup`` are their async faces, what async consumers are
given: the same names, but each operation is a coroutine, so a forgotten ``await`` is a
type error (mypy's ``unused-coroutine``) instead of a message silently not sent. A plain
``Awaitable`` cannot be flagged: sync code legitimately drops the completed one it gets.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any

from ..core.base import BaseChannelLayer
from ..core.codec import Content
from ..core.names import require_valid_channel_name, require_valid_group_name
from .context import get_current_layer, perform

__all__ = ["AsyncChannel", "AsyncGroup", "Channel", "Group"]


def _as_message(content: Mapping[str, Any]) -> Content:
    # Layers take a dict; a Mapping (a TypedDict, a message from elsewhere) is copied once.
    return content if isinstance(content, dict) else dict(content)


class Channel:
    """A named channel; ``send`` puts a message on it."""

    __slots__ = ("_layer", "name")

    def __init__(self, name: str, layer: BaseChannelLayer | None = None) -> None:
        self.name = require_valid_channel_name(name)
        self._layer = layer

    @property
    def channel_layer(self) -> BaseChannelLayer:
        return self._layer or get_current_layer()

    def send(self, content: Mapping[str, Any]) -> Awaitable[None]:
        """Send ``content``; raises ``ChannelFull`` if the channel is at capacity."""
        message = _as_message(content)
        name = self.name
        return perform(
            self.channel_layer,
            lambda layer: layer.send(name, message),
            lambda sync: sync.send(name, message),
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Channel) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"Channel({self.name!r})"


class AsyncChannel(Channel):
    """``Channel`` for async code: ``await channel.send({...})``, type-checked as such."""

    __slots__ = ()

    async def send(self, content: Mapping[str, Any]) -> None:
        """Send ``content``; raises ``ChannelFull`` if the channel is at capacity."""
        await self.channel_layer.send(self.name, _as_message(content))

    def __repr__(self) -> str:
        return f"AsyncChannel({self.name!r})"


def _channel_name(channel: Channel | str) -> str:
    return channel.name if isinstance(channel, Channel) else require_valid_channel_name(channel)


class Group:
    """A named set of channels; ``send`` reaches every live member once."""

    __slots__ = ("_layer", "name")

    def __init__(self, name: str, layer: BaseChannelLayer | None = None) -> None:
        self.name = require_valid_group_name(name)
        self._layer = layer

    @property
    def channel_layer(self) -> BaseChannelLayer:
        return self._layer or get_current_layer()

    def add(self, channel: Channel | str) -> Awaitable[None]:
        """Add ``channel`` (or refresh its membership, which otherwise lapses after the
        layer's ``group_expiry``)."""
        group, name = self.name, _channel_name(channel)
        return perform(
            self.channel_layer,
            lambda layer: layer.group_add(group, name),
            lambda sync: sync.group_add(group, name),
        )

    def discard(self, channel: Channel | str) -> Awaitable[None]:
        group, name = self.name, _channel_name(channel)
        return perform(
            self.channel_layer,
            lambda layer: layer.group_discard(group, name),
            lambda sync: sync.group_discard(group, name),
        )

    def send(self, content: Mapping[str, Any]) -> Awaitable[None]:
        """Send ``content`` to every member; full members are skipped (and counted)."""
        group, message = self.name, _as_message(content)
        return perform(
            self.channel_layer,
            lambda layer: layer.group_send(group, message),
            lambda sync: sync.group_send(group, message),
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Group) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"Group({self.name!r})"


class AsyncGroup(Group):
    """``Group`` for async code: each operation is a coroutine to await."""

    __slots__ = ()

    async def add(self, channel: Channel | str) -> None:
        """Add ``channel`` (or refresh its membership)."""
        await self.channel_layer.group_add(self.name, _channel_name(channel))

    async def discard(self, channel: Channel | str) -> None:
        await self.channel_layer.group_discard(self.name, _channel_name(channel))

    async def send(self, content: Mapping[str, Any]) -> None:
        """Send ``content`` to every member; full members are skipped (and counted)."""
        await self.channel_layer.group_send(self.name, _as_message(content))

    def __repr__(self) -> str:
        return f"AsyncGroup({self.name!r})"

"""The channel-layer contract: Channels 4's ``BaseChannelLayer`` API plus batch operations.

Theory of operation
-------------------
A layer moves msgpack-safe dicts between named channels. Delivery is at-most-once:
a message is handed to exactly one ``receive`` or lost (and counted), never duplicated.
One reader sees a channel's messages in the order they were sent. A channel holds at
most its capacity; a send beyond it raises ``ChannelFull`` at once, so the caller (an
interface) can answer its client with the protocol's overload reply. Messages older
than ``expiry`` seconds are dropped unread. Groups are named sets of channels; a
membership lapses ``group_expiry`` seconds after its last ``group_add`` unless refreshed.

Subclasses implement the abstract coroutines; the batch operations have correct
default implementations that backends override with faster ones.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from .capacity import CapacityRules, Pattern
from .codec import DEFAULT_MAX_MESSAGE_SIZE, Content
from .exceptions import ChannelFull
from .names import (
    MAX_NAME_LENGTH,
    non_local_name,
    require_valid_channel_name,
    require_valid_group_name,
)
from .stats import LayerStats, Traffic
from .timings import Timings

__all__ = ["BaseChannelLayer"]


class BaseChannelLayer(abc.ABC):
    """Base of every Telephonist layer; a drop-in Channels 4 ``CHANNEL_LAYERS`` backend."""

    MAX_NAME_LENGTH: ClassVar[int] = MAX_NAME_LENGTH
    extensions: ClassVar[list[str]] = ["groups", "flush"]

    def __init__(
        self,
        expiry: float = 60,
        group_expiry: float = 86400,
        capacity: int = 100,
        channel_capacity: Mapping[Pattern, int] | None = None,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    ) -> None:
        if expiry <= 0 or group_expiry <= 0:
            raise ValueError("expiry and group_expiry must be positive")
        if max_message_size < 64:
            raise ValueError(f"max_message_size must be at least 64 bytes, got {max_message_size}")
        self.expiry = expiry
        self.group_expiry = group_expiry
        self.capacity = capacity
        self.capacities = CapacityRules(capacity, channel_capacity)
        self.max_message_size = max_message_size
        self.stats = LayerStats()
        #: Messages ``sent`` and ``received`` through this layer object (not drops).
        self.traffic = Traffic()
        #: Durations of layer operations (``send``), where the backend measures them.
        self.timings = Timings()

    # -- Channels 4 helpers, kept for code that calls them on a layer ----------------

    def get_capacity(self, channel: str) -> int:
        return self.capacities.for_channel(channel)

    def require_valid_channel_name(self, name: str, receive: bool = False) -> bool:
        require_valid_channel_name(name)
        return True

    def require_valid_group_name(self, name: str) -> bool:
        require_valid_group_name(name)
        return True

    def non_local_name(self, name: str) -> str:
        return non_local_name(name)

    # -- the Channels 4 contract ------------------------------------------------------

    @abc.abstractmethod
    async def send(self, channel: str, message: Content) -> None:
        """Put ``message`` on ``channel``; ``ChannelFull`` if it is at capacity."""

    @abc.abstractmethod
    async def receive(self, channel: str) -> Content:
        """Wait for and return the next message on ``channel``."""

    @abc.abstractmethod
    async def new_channel(self, prefix: str = "specific.") -> str:
        """Return a fresh process-specific channel name this process may receive on."""

    @abc.abstractmethod
    async def group_add(self, group: str, channel: str) -> None: ...

    @abc.abstractmethod
    async def group_discard(self, group: str, channel: str) -> None: ...

    async def group_send(self, group: str, message: Content) -> None:
        """Send ``message`` to every live member of ``group``; full members are skipped."""
        await self.group_send_many([group], message)

    @abc.abstractmethod
    async def flush(self) -> None:
        """Drop every message and group this layer (its prefix) holds."""

    async def close(self) -> None:
        """Release connections and background tasks. The layer may be used again after."""
        return None  # nothing to release by default (the in-memory layer)

    async def close_pools(self) -> None:
        """``close()``, by the name channels_redis gives it, for code written against it."""
        await self.close()

    # -- batch operations -------------------------------------------------------------

    async def send_many(self, messages: Sequence[tuple[str, Content]]) -> list[bool]:
        """Send several messages; returns, per message, whether it was accepted.

        Validation errors (bad name, ``MessageTooLarge``) raise before anything is sent;
        a full channel refuses only its own message (``False``), the rest go through.
        """
        for channel, _ in messages:
            require_valid_channel_name(channel)
        results = []
        for channel, message in messages:
            try:
                await self.send(channel, message)
            except ChannelFull:
                results.append(False)
            else:
                results.append(True)
        return results

    async def receive_many(self, channel: str, max_messages: int = 100) -> list[Content]:
        """Wait for at least one message on ``channel``; return it with up to
        ``max_messages - 1`` more that are already waiting, in order."""
        return [await self.receive(channel)]

    @abc.abstractmethod
    async def group_send_many(self, groups: Iterable[str], message: Content) -> None:
        """Send one message to the members of several groups; a channel that is in more
        than one of them receives it once."""

    async def group_channels(self, group: str) -> list[str]:
        """Live members of ``group`` (for ``telephonist status`` and tests)."""
        raise NotImplementedError

    def reachable(self) -> bool:
        """``False`` while this process knows the layer's store to be unreachable (a
        lost connection not yet re-made). Interface servers refuse new connections at
        once then, and workers and servers do not take each other's silence for death
        while their own layer is the one that is down. Always ``True`` for a layer with
        nothing to lose (the in-memory one) and by default."""
        return True

    def describe(self) -> dict[str, Any]:
        """Settings and counters for status output."""
        return {
            "backend": f"{type(self).__module__}.{type(self).__qualname__}",
            "expiry": self.expiry,
            "group_expiry": self.group_expiry,
            "capacity": self.capacity,
            "max_message_size": self.max_message_size,
            "dropped": self.stats.snapshot(),
            "traffic": self.traffic.snapshot(),
            "timings": self.timings.snapshot(),
        }

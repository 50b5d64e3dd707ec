"""``InMemoryChannelLayer``: the single-process layer, with the Redis layer's semantics.

Theory of operation
-------------------
All state lives behind one ``threading.Lock`` so any thread of the process, on any event
loop, may use the layer: the sync facade and a Django thread share it with the main loop.
A channel is a deque of ``(expires_at, encoded)`` plus a deque of waiting receivers.
Expiry is one value per layer, so messages are appended in expiry order and expired ones
are always at the head: purging is O(expired), never a scan.

A receiver that finds nothing parks a future on its own loop; a send appends and wakes the
first live waiter, through ``call_soon_threadsafe`` when it belongs to another loop. The
woken receiver pops under the lock, so a message is handed out once. A receiver cancelled
after being woken passes the wake-up on, so no message waits while someone is waiting.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .base import BaseChannelLayer
from .capacity import Pattern
from .codec import DEFAULT_MAX_MESSAGE_SIZE, Message, decode, encode
from .exceptions import ChannelFull, MessageTooLarge
from .names import require_valid_channel_name, require_valid_group_name

__all__ = ["InMemoryChannelLayer"]


@dataclass(slots=True)
class _Channel:
    messages: deque[tuple[float, bytes]] = field(default_factory=deque)
    waiters: deque[asyncio.Future[None]] = field(default_factory=deque)


def _wake(waiter: asyncio.Future[None]) -> bool:
    """Wake ``waiter`` from any thread; ``False`` if it can no longer be woken."""
    if waiter.done():
        return False
    loop = waiter.get_loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        waiter.set_result(None)
        return True
    try:
        loop.call_soon_threadsafe(_set_if_pending, waiter)
    except RuntimeError:  # its loop is closed: that receiver is gone.
        return False
    return True


def _set_if_pending(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class InMemoryChannelLayer(BaseChannelLayer):
    """In-process channel layer. Settings as ``BaseChannelLayer``."""

    def __init__(
        self,
        expiry: float = 60,
        group_expiry: float = 86400,
        capacity: int = 100,
        channel_capacity: Mapping[Pattern, int] | None = None,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
    ) -> None:
        super().__init__(expiry, group_expiry, capacity, channel_capacity, max_message_size)
        self._lock = threading.Lock()
        self._channels: dict[str, _Channel] = {}
        self._groups: dict[str, dict[str, float]] = {}
        self._process = secrets.token_hex(6)

    # -- sending ----------------------------------------------------------------------

    async def send(self, channel: str, message: Message) -> None:
        require_valid_channel_name(channel)
        try:
            data = encode(message, self.max_message_size)
        except MessageTooLarge:
            self.stats.incr("too_large")
            raise
        with self._lock:
            if not self._append(channel, data, time.monotonic()):
                self.stats.incr("full")
                raise ChannelFull(f"channel {channel!r} is at capacity")

    def _append(self, name: str, data: bytes, now: float) -> bool:
        """Append under the lock; ``False`` if the channel is at capacity."""
        chan = self._channels.get(name)
        if chan is None:
            chan = self._channels[name] = _Channel()
        self._purge(chan, now)
        if len(chan.messages) >= self.capacities.for_channel(name):
            return False
        chan.messages.append((now + self.expiry, data))
        while chan.waiters and not _wake(chan.waiters.popleft()):
            pass
        return True

    def _purge(self, chan: _Channel, now: float) -> None:
        messages = chan.messages
        dropped = 0
        while messages and messages[0][0] <= now:
            messages.popleft()
            dropped += 1
        if dropped:
            self.stats.incr("expired", dropped)

    # -- receiving --------------------------------------------------------------------

    async def receive(self, channel: str) -> Message:
        return (await self.receive_many(channel, 1))[0]

    async def receive_many(self, channel: str, max_messages: int = 100) -> list[Message]:
        require_valid_channel_name(channel)
        if max_messages < 1:
            raise ValueError("max_messages must be at least 1")
        loop = asyncio.get_running_loop()
        while True:
            with self._lock:
                chan = self._channels.get(channel)
                if chan is None:
                    chan = self._channels[channel] = _Channel()
                self._purge(chan, time.monotonic())
                if chan.messages:
                    n = min(max_messages, len(chan.messages))
                    batch = [chan.messages.popleft()[1] for _ in range(n)]
                    self._forget_if_idle(channel, chan)
                    break
                waiter: asyncio.Future[None] = loop.create_future()
                chan.waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                with self._lock:
                    if waiter in chan.waiters:
                        chan.waiters.remove(waiter)
                    elif waiter.done() and not waiter.cancelled() and chan.messages:
                        # We were woken for a message we will not take: pass it on.
                        while chan.waiters and not _wake(chan.waiters.popleft()):
                            pass
                    self._forget_if_idle(channel, chan)
                raise
        return [decode(data) for data in batch]

    def _forget_if_idle(self, name: str, chan: _Channel) -> None:
        # Reply channels are created by the million over a process's life: drop empty ones.
        if not chan.messages and not chan.waiters and self._channels.get(name) is chan:
            del self._channels[name]

    async def new_channel(self, prefix: str = "specific.") -> str:
        name = f"{prefix}{self._process}!{secrets.token_hex(8)}"
        require_valid_channel_name(name)
        return name

    # -- groups -----------------------------------------------------------------------

    async def group_add(self, group: str, channel: str) -> None:
        require_valid_group_name(group)
        require_valid_channel_name(channel)
        with self._lock:
            self._groups.setdefault(group, {})[channel] = time.monotonic() + self.group_expiry

    async def group_discard(self, group: str, channel: str) -> None:
        require_valid_group_name(group)
        require_valid_channel_name(channel)
        with self._lock:
            members = self._groups.get(group)
            if members is not None:
                members.pop(channel, None)
                if not members:
                    del self._groups[group]

    async def group_send_many(self, groups: Iterable[str], message: Message) -> None:
        groups = list(groups)
        for group in groups:
            require_valid_group_name(group)
        data = encode(message, self.max_message_size)
        now = time.monotonic()
        full = 0
        with self._lock:
            targets: dict[str, None] = {}
            for group in groups:
                targets.update(dict.fromkeys(self._live_members(group, now)))
            for channel in targets:
                if not self._append(channel, data, now):
                    full += 1
        if full:
            self.stats.incr("full", full)

    def _live_members(self, group: str, now: float) -> list[str]:
        members = self._groups.get(group)
        if not members:
            return []
        expired = [ch for ch, until in members.items() if until <= now]
        for ch in expired:
            del members[ch]
        return list(members)

    async def group_channels(self, group: str) -> list[str]:
        require_valid_group_name(group)
        with self._lock:
            return self._live_members(group, time.monotonic())

    async def flush(self) -> None:
        with self._lock:
            self._channels = {
                n: _Channel(waiters=c.waiters) for n, c in self._channels.items() if c.waiters
            }
            self._groups.clear()

    def depths(self) -> dict[str, int]:
        """Messages waiting per channel (for ``telephonist status``)."""
        with self._lock:
            return {n: len(c.messages) for n, c in self._channels.items() if c.messages}

"""``InMemoryChannelLayer``: the single-process layer, with the Redis layer's semantics.

Theory of operation
-------------------
All state lives behind one ``threading.Lock`` so any thread of the process, on any event
loop, may use the layer: the sync facade and a Django thread share it with the main loop.
A channel is a deque of ``(expires_at, message)`` plus a deque of waiting receivers.
Expiry is one value per layer, so messages are appended in expiry order and expired ones
are always at the head: purging is O(expired), never a scan.

A receiver that finds nothing parks a waiter (a future on its own loop). A send to a
channel with a waiter on the sender's own loop hands the message straight to it: the
waiter's future resolves with a list the receiver returns (a ``receive_many(n)`` waiter
keeps collecting up to ``n`` until it runs), so the receiver does not wake up only to
take the lock again. A waiter on another loop (another thread) cannot be handed to
safely; the message is queued and the waiter woken through ``call_soon_threadsafe`` to
take it under the lock. Either way a message goes to one receiver. A receiver cancelled
after messages were handed to it puts them back at the head of the channel, in order,
and passes them on; one cancelled after a wake-up passes the wake-up on: no message
waits while someone is waiting.

Every message is stored encoded (``codec.py``: isolation, the size limit); a group send
encodes once and gives each member its own decoded copy (a shallow copy when every
value is immutable). Only a receive that waits ever suspends: sends and group
operations need no running loop, so a sync consumer runs them inline
(``consumers/_context.py``).

A channel may also have a *listener* (``listeners.py``): a receiver this layer calls
itself, outside the lock, when a message arrives on the listener's loop with nothing
queued and nobody holding an earlier message: a group send to 1,000 reply channels of
this process is then one pass and 1,000 calls, with no task woken.

Time is read from ``clock`` (``time.monotonic`` unless given): the one place expiry
meets the world, so a test can move time forward instead of sleeping.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from .base import BaseChannelLayer
from .capacity import Pattern
from .claims import CLAIMS, LocalClaims
from .codec import DEFAULT_MAX_MESSAGE_SIZE, Content, decode, encode
from .exceptions import ChannelFull, MessageTooLarge
from .listeners import LISTEN, Listener, call_listeners
from .names import foreign_channel_error, require_valid_channel_name, require_valid_group_name

__all__ = ["InMemoryChannelLayer"]


_IMMUTABLE = (str, int, float, bool, bytes, type(None))


class _Copies:
    """Decoded copies of one encoded message: the first decodes, the others are shallow
    copies when no value can be mutated in place, else decoded afresh."""

    __slots__ = ("_data", "_first", "_flat")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._first: Content | None = None
        self._flat = False

    def __call__(self) -> Content:
        first = self._first
        if first is None:
            first = self._first = decode(self._data)
            self._flat = all(isinstance(v, _IMMUTABLE) for v in first.values())
            return first
        return first.copy() if self._flat else decode(self._data)


@dataclass(slots=True)
class _Waiter:
    future: asyncio.Future[list[Content] | None]  # None: woken, take from the channel
    loop: asyncio.AbstractEventLoop
    n: int
    taken: list[Content] = field(default_factory=list)


@dataclass(slots=True)
class _Channel:
    capacity: int
    messages: deque[tuple[float, bytes | Content]] = field(default_factory=deque)
    waiters: deque[_Waiter] = field(default_factory=deque)
    listener: Listener | None = None
    listener_loop: asyncio.AbstractEventLoop | None = None


Calls = list[tuple[Listener, Content]]  # messages taken for listeners, called after the lock


def _holding(waiters: deque[_Waiter]) -> bool:
    """Whether a receive was handed a message it has not returned yet: a message for a
    listener now would overtake it."""
    return any(waiter.taken for waiter in waiters)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    """The calling thread's running loop; ``None`` when a sync consumer runs a send
    inline, with no loop (``consumers/_context.py``): then no waiter is handed to."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _set_if_pending(future: asyncio.Future[list[Content] | None]) -> None:
    if not future.done():
        future.set_result(None)


class InMemoryChannelLayer(BaseChannelLayer):
    """In-process channel layer. Settings as ``BaseChannelLayer``; ``clock`` returns the
    time in seconds that expiry is measured on (a test passes a fake one)."""

    #: ``claims`` (``core/claims.py``): set-if-absent with expiry, held in this process.
    extensions: ClassVar[list[str]] = [*BaseChannelLayer.extensions, CLAIMS, LISTEN]

    def __init__(
        self,
        expiry: float = 60,
        group_expiry: float = 86400,
        capacity: int = 100,
        channel_capacity: Mapping[Pattern, int] | None = None,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(expiry, group_expiry, capacity, channel_capacity, max_message_size)
        self.clock = clock
        self._lock = threading.Lock()
        self._channels: dict[str, _Channel] = {}
        self._groups: dict[str, dict[str, float]] = {}
        self._process = secrets.token_hex(6)
        self._claims = LocalClaims()
        self._own = self._process + "!"  # what the names new_channel makes end their prefix in

    # -- sending ----------------------------------------------------------------------

    async def send(self, channel: str, message: Content) -> None:
        require_valid_channel_name(channel)
        try:
            data = encode(message, self.max_message_size)
        except MessageTooLarge:
            self.stats.incr("too_large")
            raise
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:  # a sync consumer runs this inline (see the module doc)
            loop = None
        calls: Calls = []
        with self._lock:
            if not self._append(channel, data, self.clock(), loop, None, calls):
                self.stats.incr("full")
                raise ChannelFull(f"channel {channel!r} is at capacity")
            self.traffic.sent += 1  # under the lock: exact, and no lock of its own
        if calls:
            call_listeners(calls)

    def _append(
        self,
        name: str,
        data: bytes,
        now: float,
        loop: asyncio.AbstractEventLoop | None,
        copies: _Copies | None,
        calls: Calls,
    ) -> bool:
        """Deliver or queue under the lock; ``False`` if the channel is at capacity. A
        message for a listener goes into ``calls``, to be called after the lock."""
        chan = self._channels.get(name)
        if chan is None:
            chan = self._channels[name] = _Channel(self.capacities.for_channel(name))
        messages = chan.messages
        if messages and messages[0][0] <= now:
            self._purge(chan, now)
        waiters = chan.waiters
        listener = chan.listener
        if (
            listener is not None
            and chan.listener_loop is loop
            and not messages
            and listener.ready
            and not _holding(waiters)
        ):
            calls.append((listener, copies() if copies is not None else decode(data)))
            self.traffic.received += 1
            return True
        while waiters:
            waiter = waiters[0]
            taken = waiter.taken
            if len(taken) < waiter.n if taken else not waiter.future.done():
                if waiter.loop is loop:
                    # Handed over: the receiver returns it without taking the lock again.
                    taken.append(copies() if copies is not None else decode(data))
                    if len(taken) == 1:
                        waiter.future.set_result(taken)
                    return True
                if len(messages) >= chan.capacity:
                    return False
                messages.append((now + self.expiry, data))
                waiters.popleft()
                if self._wake(waiter):
                    return True
                continue  # its loop is closed: that receiver is gone
            waiters.popleft()  # cancelled, or has all it asked for
        if len(messages) >= chan.capacity:
            return False
        messages.append((now + self.expiry, data))
        return True

    @staticmethod
    def _wake(waiter: _Waiter) -> bool:
        """Wake a waiter of another loop to take from the channel; ``False`` if its loop
        is closed."""
        try:
            waiter.loop.call_soon_threadsafe(_set_if_pending, waiter.future)
        except RuntimeError:
            return False
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

    async def receive(self, channel: str) -> Content:
        require_valid_channel_name(channel)
        if "!" in channel and self._own not in channel:  # one "!" at most: name checked
            raise foreign_channel_error(channel)
        # The common case, a message already queued, without a second coroutine.
        batch = self._take_now(channel, 1)
        if batch is None:
            return (await self._wait(channel, 1))[0]
        item = batch[0]
        return item if isinstance(item, dict) else decode(item)

    async def receive_many(self, channel: str, max_messages: int = 100) -> list[Content]:
        require_valid_channel_name(channel)
        if "!" in channel and self._own not in channel:  # one "!" at most: name checked
            raise foreign_channel_error(channel)
        if max_messages < 1:
            raise ValueError("max_messages must be at least 1")
        batch = self._take_now(channel, max_messages)
        if batch is None:
            return await self._wait(channel, max_messages)
        return [item if isinstance(item, dict) else decode(item) for item in batch]

    def _take_now(self, channel: str, n: int) -> list[bytes | Content] | None:
        """Up to ``n`` queued messages (still encoded), or ``None`` if there are none."""
        with self._lock:
            chan = self._channels.get(channel)
            if chan is None or not chan.messages:
                return None
            messages = chan.messages
            now = self.clock()
            if messages[0][0] <= now:
                self._purge(chan, now)
                if not messages:
                    self._forget_if_idle(channel, chan)
                    return None
            if n == 1:
                batch = [messages.popleft()[1]]
            else:
                batch = [messages.popleft()[1] for _ in range(min(n, len(messages)))]
            self._forget_if_idle(channel, chan)
            self.traffic.received += len(batch)
            return batch

    async def _wait(self, channel: str, n: int) -> list[Content]:
        while True:
            with self._lock:
                chan = self._channels.get(channel)
                if chan is None:
                    chan = self._channels[channel] = _Channel(self.capacities.for_channel(channel))
                if not chan.messages:
                    loop = asyncio.get_running_loop()
                    waiter = _Waiter(loop.create_future(), loop, n)
                    chan.waiters.append(waiter)
                    waiter_chan = chan
                else:
                    waiter_chan = None
            if waiter_chan is None:
                # Something arrived since the first look: take it.
                batch = self._take_now(channel, n)
                if batch is not None:
                    return [item if isinstance(item, dict) else decode(item) for item in batch]
                continue
            try:
                got = await waiter.future
            except BaseException:
                with self._lock:
                    self._withdraw(channel, waiter_chan, waiter)
                raise
            with self._lock:
                waiter.n = 0  # nothing more is handed to it
                waiters = waiter_chan.waiters
                if waiters and waiters[0] is waiter:
                    waiters.popleft()
                elif waiter in waiters:
                    waiters.remove(waiter)
                self._forget_if_idle(channel, waiter_chan)
                if got is not None:
                    self.traffic.received += len(got)
            if got is not None:
                return got

    def _withdraw(self, channel: str, chan: _Channel, waiter: _Waiter) -> None:
        """Under the lock: a receive cancelled while waiting leaves nothing behind."""
        waiter.n = 0
        if waiter in chan.waiters:
            chan.waiters.remove(waiter)
        future = waiter.future
        if waiter.taken:
            # Handed messages, then cancelled: back to the head, in order, passed on.
            # Sent before anything still queued, so they expire no later than its head:
            # that bound keeps the queue in expiry order.
            messages = chan.messages
            expires = messages[0][0] if messages else self.clock() + self.expiry
            messages.extendleft((expires, message) for message in reversed(waiter.taken))
            waiter.taken = []
            self._pass_on(chan)
        elif future.done() and not future.cancelled() and chan.messages:
            self._pass_on(chan)  # woken for a message we will not take
        self._forget_if_idle(channel, chan)

    def _pass_on(self, chan: _Channel) -> None:
        """Give queued messages to waiters, as far as there are waiters."""
        waiters = chan.waiters
        messages = chan.messages
        while waiters and messages:
            waiter = waiters[0]
            taken = waiter.taken
            if not (len(taken) < waiter.n if taken else not waiter.future.done()):
                waiters.popleft()
                continue
            if waiter.loop is _running_loop():
                item = messages.popleft()[1]
                taken.append(item if isinstance(item, dict) else decode(item))
                if len(taken) == 1:
                    waiter.future.set_result(taken)
            else:
                waiters.popleft()
                if self._wake(waiter):
                    return

    def _forget_if_idle(self, name: str, chan: _Channel) -> None:
        # Reply channels are created by the million over a process's life: drop empty ones.
        if (
            not chan.messages
            and not chan.waiters
            and chan.listener is None
            and self._channels.get(name) is chan
        ):
            del self._channels[name]

    # -- listeners (listeners.py) -------------------------------------------------------

    def listen(self, channel: str, listener: Listener) -> bool:
        """Call ``listener`` with messages for ``channel`` (a ``!`` channel this layer
        made) sent on the running loop, when it is ready; see ``listeners.py``."""
        require_valid_channel_name(channel)
        if self._own not in channel:
            raise foreign_channel_error(channel)
        loop = asyncio.get_running_loop()
        with self._lock:
            chan = self._channels.get(channel)
            if chan is None:
                chan = self._channels[channel] = _Channel(self.capacities.for_channel(channel))
            chan.listener = listener
            chan.listener_loop = loop
        return True

    def unlisten(self, channel: str, listener: Listener) -> None:
        """Stop calling ``listener`` (if it is still the channel's listener)."""
        with self._lock:
            chan = self._channels.get(channel)
            if chan is not None and chan.listener is listener:
                chan.listener = chan.listener_loop = None
                self._forget_if_idle(channel, chan)

    async def new_channel(self, prefix: str = "specific.") -> str:
        return self.new_channel_nowait(prefix)

    def new_channel_nowait(self, prefix: str = "specific.") -> str:
        """``new_channel`` for sync code that owns this layer (the test tools): making a
        name takes no I/O here. Only names made so are received on (see ``receive``)."""
        name = f"{prefix}{self._process}!{secrets.token_hex(8)}"
        require_valid_channel_name(name)
        return name

    # -- groups -----------------------------------------------------------------------

    async def group_add(self, group: str, channel: str) -> None:
        require_valid_group_name(group)
        require_valid_channel_name(channel)
        with self._lock:
            self._groups.setdefault(group, {})[channel] = self.clock() + self.group_expiry

    async def group_discard(self, group: str, channel: str) -> None:
        require_valid_group_name(group)
        require_valid_channel_name(channel)
        with self._lock:
            members = self._groups.get(group)
            if members is not None:
                members.pop(channel, None)
                if not members:
                    del self._groups[group]

    async def group_send_many(self, groups: Iterable[str], message: Content) -> None:
        groups = list(groups)
        for group in groups:
            require_valid_group_name(group)
        data = encode(message, self.max_message_size)
        copies = _Copies(data)  # decoded once, copied per member handed to
        loop = _running_loop()
        now = self.clock()
        full = listened = 0
        calls: Calls = []
        with self._lock:
            targets: dict[str, None] = {}
            for group in groups:
                targets.update(dict.fromkeys(self._live_members(group, now)))
            channels = self._channels
            for channel in targets:
                # Inlined common case, a member waiting on this loop with nothing queued:
                # hand it a copy (one pass over 1,000 members, no call per member).
                chan = channels.get(channel)
                if chan is not None and not chan.messages:
                    listener = chan.listener
                    if listener is not None:
                        # A listener (a reply channel's runner, parked): called after
                        # the lock, in this same turn, with no task to wake.
                        if (
                            chan.listener_loop is loop
                            and listener.ready
                            and not _holding(chan.waiters)
                        ):
                            calls.append((listener, copies()))
                            listened += 1
                            continue
                    elif chan.waiters:
                        waiter = chan.waiters[0]
                        taken = waiter.taken
                        if not taken and waiter.loop is loop and not waiter.future.done():
                            taken.append(copies())
                            waiter.future.set_result(taken)
                            continue
                if not self._append(channel, data, now, loop, copies, calls):
                    full += 1
            self.traffic.received += listened  # (``_append`` counts its own)
        if full:
            self.stats.incr("full", full)
        if calls:
            call_listeners(calls)

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
            return self._live_members(group, self.clock())

    async def flush(self) -> None:
        with self._lock:
            self._channels = {
                n: _Channel(
                    c.capacity,
                    waiters=c.waiters,
                    listener=c.listener,
                    listener_loop=c.listener_loop,
                )
                for n, c in self._channels.items()
                if c.waiters or c.listener is not None
            }
            self._groups.clear()
        self._claims.clear()

    # -- claims (core/claims.py) ------------------------------------------------------

    async def claim(self, key: str, value: str, ttl: float) -> str | None:
        return self._claims.claim_now(key, value, ttl)

    async def set_claim(self, key: str, value: str, ttl: float) -> None:
        self._claims.set_now(key, value, ttl)

    async def drop_claim(self, key: str) -> None:
        self._claims.drop_now(key)

    def depths(self) -> dict[str, int]:
        """Messages waiting per channel (for ``telephonist status``)."""
        with self._lock:
            return {n: len(c.messages) for n, c in self._channels.items() if c.messages}

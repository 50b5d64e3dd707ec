"""Local dispatch for process-specific channels: per-channel buffers and waiters.

The inbox reader (``readers.py``) pops envelopes for *all* of this loop's ``!`` channels
from one list and hands each to ``LocalChannels.deliver``, which files the payload under
every channel the envelope names and wakes that channel's first waiter. A woken
receiver takes from the buffer itself when it runs, so a receiver cancelled between
wake-up and running loses nothing: the message stays buffered and the wake-up passes on.

A buffered message still counts against its channel's capacity in Redis (the counts
hash, see ``keys.py``): only when it leaves the buffer, delivered or expired, is an
*ack* queued, and ``AckBuffer`` sends the decrements in one script call per process
inbox, piggybacked on the inbox reader's next pop when it can be. Expired messages are
dropped on receive and by a local timer (no Redis traffic), so a channel nobody reads
any more holds at most its capacity, and only until ``expiry``.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Awaitable, Callable

from ..exceptions import LayerUnavailable
from ..stats import LayerStats
from .keys import Envelope, now_ms, process_tag

__all__ = ["AckBuffer", "LocalChannels"]

Acks = dict[str, Counter[str]]  # process tag -> channel -> messages that left the buffer


class AckBuffer:
    """Capacity decrements waiting to be sent, flushed once per loop iteration."""

    def __init__(self, send: Callable[[Acks], Awaitable[None]]) -> None:
        self._send = send
        self._pending: Acks = {}
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()

    def add(self, channel: str, n: int = 1) -> None:
        tag = process_tag(channel)
        self._pending.setdefault(tag, Counter())[channel] += n
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._start)

    def _start(self) -> None:
        # Usually the inbox reader has taken the acks for its next pop by now, and no
        # round trip (nor task) of their own is needed.
        self._scheduled = False
        if self._pending:
            task = asyncio.create_task(self._flush())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def take(self, tag: str) -> Counter[str] | None:
        """Remove and return ``tag``'s pending acks (the inbox reader sends them with its
        next pop, saving a round trip)."""
        return self._pending.pop(tag, None)

    async def _flush(self) -> None:
        pending, self._pending = self._pending, {}
        if pending:
            await self._send(pending)

    def clear(self) -> None:
        self._pending = {}

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class LocalChannels:
    """Buffers and waiters of one loop's process-specific channels."""

    def __init__(self, stats: LayerStats, acks: AckBuffer) -> None:
        self._stats = stats
        self._acks = acks
        self._buffers: dict[str, deque[tuple[int, memoryview]]] = {}
        self._waiters: dict[str, deque[asyncio.Future[None]]] = {}
        self._timer: asyncio.TimerHandle | None = None

    def deliver(self, envelope: Envelope) -> None:
        for channel in envelope.channels:
            buffer = self._buffers.get(channel)
            if buffer is None:
                buffer = self._buffers[channel] = deque()
            buffer.append((envelope.expires_ms, envelope.payload))
            if not self._wake(channel):
                self._arm_timer(envelope.expires_ms)

    def _wake(self, channel: str) -> bool:
        waiters = self._waiters.get(channel)
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return True
        return False

    async def receive(self, channel: str, max_messages: int) -> list[memoryview]:
        while True:
            taken = self._take(channel, max_messages)
            if taken:
                return taken
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.setdefault(channel, deque()).append(waiter)
            try:
                await waiter
            except BaseException:
                waiters = self._waiters.get(channel)
                if waiters is not None and waiter in waiters:
                    waiters.remove(waiter)
                elif (
                    waiter.done()
                    and not waiter.cancelled()
                    and self._buffers.get(channel)
                    and not self._wake(channel)  # woken for a message we will not take
                ):
                    # Nobody to pass it on to: at least make sure it expires.
                    self._arm_timer(self._buffers[channel][0][0])
                self._forget_if_idle(channel)
                raise

    def _take(self, channel: str, max_messages: int) -> list[memoryview]:
        buffer = self._buffers.get(channel)
        if not buffer:
            return []
        now = now_ms()
        taken: list[memoryview] = []
        expired = 0
        while buffer and len(taken) < max_messages:
            expires, payload = buffer.popleft()
            if expires <= now:
                expired += 1
            else:
                taken.append(payload)
        if expired:
            self._stats.incr("expired", expired)
        self._acks.add(channel, expired + len(taken))
        self._forget_if_idle(channel)
        return taken

    def _forget_if_idle(self, channel: str) -> None:
        # Reply channels come and go by the million: keep no empty entries.
        if not self._buffers.get(channel):
            self._buffers.pop(channel, None)
        if not self._waiters.get(channel):
            self._waiters.pop(channel, None)

    def _arm_timer(self, expires_ms: int) -> None:
        if self._timer is None:
            loop = asyncio.get_running_loop()
            delay = max(0.0, (expires_ms - now_ms()) / 1000) + 0.01
            self._timer = loop.call_later(delay, self._purge)

    def _purge(self) -> None:
        """Drop expired messages nobody received (a local timer, no Redis command)."""
        self._timer = None
        now = now_ms()
        earliest: int | None = None
        for channel, buffer in list(self._buffers.items()):
            expired = 0
            while buffer and buffer[0][0] <= now:
                buffer.popleft()
                expired += 1
            if expired:
                self._stats.incr("expired", expired)
                self._acks.add(channel, expired)
            if buffer:
                head = buffer[0][0]
                earliest = head if earliest is None else min(earliest, head)
            self._forget_if_idle(channel)
        if earliest is not None:
            self._arm_timer(earliest)

    def depths(self) -> dict[str, int]:
        """Messages buffered per channel, for status output (may be called from another
        thread: it reads a snapshot of the items)."""
        return {channel: len(buffer) for channel, buffer in list(self._buffers.items()) if buffer}

    def clear(self) -> None:
        """Forget every buffered message (``flush``); waiters keep waiting."""
        self._buffers.clear()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._buffers.clear()
        for waiters in self._waiters.values():
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(LayerUnavailable("the layer was closed"))
        self._waiters.clear()

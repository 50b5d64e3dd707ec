"""Local dispatch for process-specific channels: per-channel buffers and waiters.

The inbox reader (``readers.py``) pops envelopes for *all* of this loop's ``!`` channels
from one list and hands each to ``LocalChannels.deliver``, which, for every channel the
envelope names, hands the message straight to that channel's first waiting receiver
(resolving its future with a list the receiver returns) or, if nobody waits, buffers
it. A receiver only waits when its channel's buffer is empty, and a message goes to a
waiter before any buffer, so a channel never has both: FIFO per reader holds. A
``receive_many(n)`` waiter keeps collecting (up to ``n``) until it runs. A receiver
cancelled after its messages were handed to it puts them back at the head of the
buffer, in order, and passes them on to the next waiter: nothing is lost.

An envelope from a group send names many channels of this process; its payload is
decoded once, and each receiver gets its own copy (a shallow copy when every value is
immutable, else a fresh decode): one receiver mutating its message never shows in
another's, the isolation the contract promises.

A channel may have a *listener* (``listeners.py``): when a message arrives for it with
nothing buffered and no receiver holding an earlier one, and the listener is ready, it
is called with the message right after the envelope is filed, with no task to wake:
a group send to this process's 1,000 reply channels is one pass and 1,000 calls.

A message counts against its channel's capacity in Redis (the counts hash, see
``keys.py``) until it leaves this process's hands: when it is handed to a receiver or
expires, an *ack* is queued, and ``AckBuffer`` sends the decrements in one script call
per process inbox, piggybacked on the inbox reader's next pop when it can be (it
always can for messages handed over on arrival). Messages put back by a cancelled
receiver are counted again (a negative ack). Expired messages are dropped on receive
and by a local timer (no Redis traffic), so a channel nobody reads any more holds at
most its capacity, and only until ``expiry``.

Nothing popped is trusted (``drops.py``): a channel an envelope names that is not one
of the inbox's process is not buffered, and a payload that does not decode is dropped
and counted ``malformed`` where it would have been handed over, acked like a message
that left: the receivers of the channel go on waiting for the next one.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial

from ..codec import Content, decode
from ..exceptions import LayerUnavailable, MalformedMessage
from ..listeners import Listener, call_listeners
from ..stats import LayerStats, Traffic
from .drops import INBOX, Drops
from .keys import Envelope, now_ms, owned_by, process_tag

__all__ = ["AckBuffer", "LocalChannels", "Waiter"]

Acks = dict[str, Counter[str]]  # process tag -> channel -> messages that left the buffer


class AckBuffer:
    """Capacity decrements waiting to be sent, flushed once per loop iteration."""

    def __init__(self, send: Callable[[Acks], Awaitable[None]]) -> None:
        self._send = send
        self._pending: Acks = {}
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()

    def add(self, channel: str, n: int = 1) -> None:
        self._counts(channel)[channel] += n

    def add_all(self, channels: list[str]) -> None:
        """One ack each for ``channels``, all of one process (one envelope's)."""
        self._counts(channels[0]).update(channels)

    def _counts(self, channel: str) -> Counter[str]:
        tag = process_tag(channel)
        counts = self._pending.get(tag)
        if counts is None:
            counts = self._pending[tag] = Counter()
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._start)
        return counts

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


_IMMUTABLE = (str, int, float, bool, bytes, type(None))


def _copier(message: Content, payload: memoryview) -> Callable[[], Content]:
    """How to give another receiver its own copy of ``message`` (decoded from
    ``payload``): a shallow copy suffices when no value can be mutated in place."""
    for value in message.values():
        if not isinstance(value, _IMMUTABLE):
            return partial(decode, payload)
    return message.copy


@dataclass(slots=True)
class Waiter:
    """One waiting receive: its future is resolved with ``taken`` on the first message;
    it keeps collecting up to ``n`` until it runs. ``queued``: still in its channel's
    waiter queue (a waiter found cancelled or full at the head is dropped from it by
    whoever looks next; otherwise its receiver takes it out when it returns)."""

    future: asyncio.Future[list[Content]]
    n: int
    taken: list[Content] = field(default_factory=list)
    expires: list[int] = field(default_factory=list)
    queued: bool = True


Buffered = tuple[int, "memoryview | Content"]  # (expires_ms, payload, or a message put back)


class LocalChannels:
    """Buffers and waiters of one loop's process-specific channels."""

    def __init__(
        self,
        stats: LayerStats,
        acks: AckBuffer,
        drops: Drops | None = None,
        traffic: Traffic | None = None,
    ) -> None:
        self._stats = stats
        self._acks = acks
        self._drops = drops or Drops(stats)
        self._traffic = traffic or Traffic()
        self._buffers: dict[str, deque[Buffered]] = {}
        self._waiters: dict[str, deque[Waiter]] = {}
        self._listeners: dict[str, Listener] = {}
        self._timer: asyncio.TimerHandle | None = None

    def deliver(self, envelope: Envelope, tag: str) -> None:
        """Hand or buffer ``envelope`` (popped from inbox ``tag``) for each channel it names."""
        # Inlined (no helper calls per channel): a group send to 1,000 members of this
        # process is one envelope naming all of them, delivered in one pass.
        message: Content | None = None
        copy: Callable[[], Content] | None = None
        expires = envelope.expires_ms
        handed: list[str] = []
        calls: list[tuple[Listener, Content]] = []
        waiters_of = self._waiters
        listeners = self._listeners
        buffers = self._buffers
        for channel in envelope.channels:
            waiters = waiters_of.get(channel)
            listener = listeners.get(channel) if listeners else None
            if (
                listener is not None
                and listener.ready
                and not buffers.get(channel)
                and not (waiters and any(w.taken for w in waiters))
            ):
                if message is None:
                    try:
                        mine = message = decode(envelope.payload)
                    except MalformedMessage as exc:
                        self._undeliverable(envelope, tag, channel, exc)
                        break
                else:
                    if copy is None:
                        copy = _copier(message, envelope.payload)
                    mine = copy()
                calls.append((listener, mine))
                handed.append(channel)
                continue
            waiter = None
            while waiters:
                first = waiters[0]
                taken = first.taken
                if len(taken) < first.n if taken else not first.future.done():
                    waiter = first
                    break
                waiters.popleft()  # cancelled, or has all it asked for
                first.queued = False
            if waiter is None:
                if waiters is not None:
                    del waiters_of[channel]  # every one of them dequeued just above
                if not owned_by(channel, tag):  # checked here only: a waiter's is ours
                    self._drops.malformed(INBOX, "an envelope naming a channel of another process")
                    continue
                buffer = self._buffers.get(channel)
                if buffer is None:
                    buffer = self._buffers[channel] = deque()
                buffer.append((expires, envelope.payload))
                self._arm_timer(expires)
                continue
            if message is None:
                try:
                    mine = message = decode(envelope.payload)
                except MalformedMessage as exc:
                    self._undeliverable(envelope, tag, channel, exc)
                    break
            else:
                if copy is None:
                    copy = _copier(message, envelope.payload)
                mine = copy()
            taken.append(mine)
            waiter.expires.append(expires)
            if len(taken) == 1:
                waiter.future.set_result(taken)
            # The waiter stays queued until its receiver runs: while it holds a message
            # it has not returned, the listener check above must see it (a listener
            # handed the next message would get it first).
            handed.append(channel)
        if handed:
            self._acks.add_all(handed)  # they left this process's hands
            self._traffic.received += len(handed)
        if calls:
            call_listeners(calls)  # after the filing: a listener sees a settled state

    def _undeliverable(self, envelope: Envelope, tag: str, first: str, exc: Exception) -> None:
        """The payload ``deliver`` was about to hand to ``first`` does not decode: no
        message was handed yet; it leaves our hands for ``first`` and every channel the
        envelope names after it (those before it were buffered: dropped when taken)."""
        self._drops.malformed(INBOX, exc)
        channels = envelope.channels
        rest = channels[channels.index(first) :]
        gone = [channel for channel in rest if owned_by(channel, tag)]
        if gone:
            self._acks.add_all(gone)

    def _first_waiter(self, channel: str) -> Waiter | None:
        waiters = self._waiters.get(channel)
        while waiters:
            waiter = waiters[0]
            taken = waiter.taken
            if len(taken) < waiter.n if taken else not waiter.future.done():
                return waiter
            waiters.popleft()
            waiter.queued = False
        return None

    def _hand(self, channel: str, waiter: Waiter, expires_ms: int, message: Content) -> None:
        waiter.taken.append(message)
        waiter.expires.append(expires_ms)
        if len(waiter.taken) == 1:
            waiter.future.set_result(waiter.taken)
        self._acks.add(channel)  # it left this process's hands
        self._traffic.received += 1

    async def receive(self, channel: str, max_messages: int) -> list[Content]:
        taken = self.take(channel, max_messages)
        if taken:
            return taken
        waiter = self.wait(channel, max_messages)
        try:
            return await waiter.future
        except BaseException:
            self.put_back(channel, waiter)
            raise
        finally:
            if waiter.queued:
                self.stop_waiting(channel, waiter)

    # ``take``, ``wait``, ``put_back`` and ``stop_waiting`` are ``receive`` in pieces,
    # for a caller that awaits the waiter's future in its own frame (each coroutine
    # frame between a receiver and its future is resumed on every wake-up).

    def wait(self, channel: str, max_messages: int) -> Waiter:
        """Queue a waiter for ``channel`` (call only after ``take`` found nothing); the
        caller awaits its ``future``, then, whatever happened, calls ``stop_waiting`` if
        the waiter is still ``queued``, and ``put_back`` first if the await raised."""
        waiter = Waiter(asyncio.get_running_loop().create_future(), max_messages)
        waiters = self._waiters.get(channel)
        if waiters is None:
            waiters = self._waiters[channel] = deque()
        waiters.append(waiter)
        return waiter

    def stop_waiting(self, channel: str, waiter: Waiter) -> None:
        """Take a waiter that is still ``queued`` out of its queue: from here on nothing
        more is handed to it."""
        waiter.n = 0
        waiter.queued = False
        waiters = self._waiters.get(channel)
        if waiters:
            if waiters[0] is waiter:
                waiters.popleft()
            elif waiter in waiters:
                waiters.remove(waiter)
        if not waiters:
            self._forget_if_idle(channel)

    def put_back(self, channel: str, waiter: Waiter) -> None:
        """A receive cancelled with messages already handed to it: back to the head of
        the buffer, in order, counted again, and on to the next waiter."""
        if not waiter.taken:
            return
        taken = list(zip(waiter.expires, waiter.taken, strict=True))
        waiter.taken.clear()
        waiter.n = 0
        self._acks.add(channel, -len(taken))
        self._traffic.received -= len(taken)
        buffer = self._buffers.get(channel)
        if buffer is None:
            buffer = self._buffers[channel] = deque()
        buffer.extendleft(reversed(taken))
        while buffer:
            other = self._first_waiter(channel)
            if other is None:
                self._arm_timer(buffer[0][0])
                return
            expires, item = buffer.popleft()
            if not isinstance(item, dict):
                try:
                    item = decode(item)
                except MalformedMessage as exc:
                    self._drops.malformed(INBOX, exc)
                    self._acks.add(channel)
                    continue
            self._hand(channel, other, expires, item)

    def take(self, channel: str, max_messages: int) -> list[Content]:
        """Up to ``max_messages`` buffered for ``channel`` (expired ones dropped), at once."""
        buffer = self._buffers.get(channel)
        if not buffer:
            return []
        now = now_ms()
        taken: list[Content] = []
        expired = malformed = 0
        while buffer and len(taken) < max_messages:
            expires, item = buffer.popleft()
            if expires <= now:
                expired += 1
            elif isinstance(item, dict):
                taken.append(item)
            else:
                try:
                    taken.append(decode(item))
                except MalformedMessage as exc:
                    malformed += 1
                    self._drops.malformed(INBOX, exc)
        if expired:
            self._stats.incr("expired", expired)
        self._acks.add(channel, expired + malformed + len(taken))
        self._traffic.received += len(taken)
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

    def listen(self, channel: str, listener: Listener) -> None:
        self._listeners[channel] = listener

    def unlisten(self, channel: str, listener: Listener) -> None:
        if self._listeners.get(channel) is listener:
            del self._listeners[channel]

    def waiting(self) -> bool:
        """Whether any receive waits (or listener listens) on one of these channels."""
        return bool(self._listeners) or any(self._waiters.values())

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
                if not waiter.future.done():
                    waiter.future.set_exception(LayerUnavailable("the layer was closed"))
        self._waiters.clear()
        self._listeners.clear()

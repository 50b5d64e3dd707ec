"""The receive loops: one per process inbox, one per normal channel being received.

Both are chains of callbacks on a blocking connection (``popper.py``): the callback that
gets a pop's reply files the messages and writes the next pop, inside the connection's
``data_received``, so a message reaches the receiver waiting for it with no task waking
in between. A task exists only to (re)connect, with backoff.

``InboxReader`` blocks on the process inbox for as long as the loop state lives and
files what it pops under the process's ``!`` channels (``local.py``), handing each
message straight to a receiver that is waiting for it. It is supervised: any failure (a
Redis restart, a failover, a ``MOVED`` slot) is logged, waited out with backoff and
jitter, and the loop resumes on a fresh connection, so pending receives keep waiting
instead of finding a dead loop. Acks queued for the inbox ride on its next pop.

``ChannelReader`` serves the local receivers of one normal channel. It pops exactly as
many messages as they are waiting for (a ``receive`` wants one, ``receive_many(n)``
wants ``n``), so worker processes blocked on the same channel share it fairly and none
hoards messages it is not ready for. It holds a connection only while someone waits: when
the last waiter leaves, the pending pop is ``CLIENT UNBLOCK``-ed, anything popped that
nobody took is pushed back to the head of the list, in order (or counted ``cancelled``
if that push fails: at-most-once allows the loss, the stats make it visible), and the
connection goes back to the node. The reader object itself stays listed (a few, see
``state.py``): a worker receives on the same channels again and again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..exceptions import LayerUnavailable
from ..stats import LayerStats
from .backoff import Backoff
from .cluster import redirection
from .keys import now_ms, unpack_envelope
from .local import AckBuffer, LocalChannels
from .node import CONNECTION_ERRORS, Command
from .popper import Popper
from .shard import Shard

__all__ = ["ChannelReader", "InboxReader"]

logger = logging.getLogger("telephonist.layer.redis")

_INBOX_BATCH = 512  # the inbox is ours alone: take whatever is there, up to this
_ACK_INLINE = 64  # channels delivered by one pop up to which the next pop is written at once


async def _wait_out(shard: Shard, exc: BaseException, delay: float, what: str) -> None:
    if redirection(exc) is not None:
        await shard.refresh()
    elif not isinstance(exc, CONNECTION_ERRORS):
        logger.exception("%s failed; restarting it", what, exc_info=exc)
    await asyncio.sleep(delay)  # backoff before retrying, not a poll


class InboxReader:
    def __init__(
        self,
        tag: str,
        key: str,
        shard: Shard,
        local: LocalChannels,
        acks: AckBuffer,
        ack_command: Callable[[str, Counter[str]], Command],
        stats: LayerStats,
    ) -> None:
        self.tag = tag
        self._key = key
        self._shard = shard
        self._local = local
        self._acks = acks
        self._ack_command = ack_command
        self._stats = stats
        self._closing = False
        self._popper: Popper | None = None
        self._ended: asyncio.Future[BaseException] | None = None
        self._backoff: Backoff | None = None
        self.task = asyncio.create_task(self._supervise(), name=f"telephonist-inbox-{tag}")
        self.task.add_done_callback(self._task_ended)

    def _task_ended(self, task: asyncio.Task[None]) -> None:
        if self._closing:
            return
        # Never silently dead: its receivers would wait forever. (The supervisor outlives
        # every error, so this is a last line of defence against a bug.)
        logger.error("inbox reader %s ended unexpectedly (%r); restarting it", self.tag, task)
        with contextlib.suppress(RuntimeError):  # the loop is closing: nothing to serve
            asyncio.get_running_loop().call_later(1.0, self._restart)

    def _restart(self) -> None:
        if not self._closing and self.task.done():
            self.task = asyncio.create_task(self._supervise(), name=self.task.get_name())
            self.task.add_done_callback(self._task_ended)

    async def _supervise(self) -> None:
        while True:
            popper: Popper | None = None
            try:
                popper = Popper(await self._shard.node_for(self._key))
                await popper.connect()
                self._ended = asyncio.get_running_loop().create_future()
                self._popper = popper
                self._pop()
                raise await self._ended  # the chain runs in callbacks until it fails
            except asyncio.CancelledError:
                self._stop(popper)
                raise
            except Exception as exc:
                self._stop(popper)
                if popper is not None and isinstance(exc, CONNECTION_ERRORS):
                    popper.node.note_failure(exc)
                self._backoff = self._backoff or self._shard.node.new_backoff()
                delay = self._backoff.delay()
                await _wait_out(self._shard, exc, delay, f"inbox reader {self.tag}")

    def _stop(self, popper: Popper | None) -> None:
        self._popper = None
        if popper is not None:
            popper.discard()

    def _pop(self) -> None:
        popper = self._popper
        if popper is None or popper.blocked:
            return  # stopped, or a pop is out already (a late call after a reconnect)
        pending = self._acks.take(self.tag)
        before = [self._ack_command(self.tag, pending)] if pending else []

        def acked(replies: list[Any] | BaseException) -> None:
            failed = isinstance(replies, BaseException) or isinstance(replies[0], Exception)
            if pending and failed:
                # NOSCRIPT, or the connection went: the command pipe path sends them.
                for channel, n in pending.items():
                    self._acks.add(channel, n)

        popper.pop(self._key, _INBOX_BATCH, self._popped, before, acked)

    def _popped(self, items: list[bytes] | BaseException) -> None:
        if isinstance(items, BaseException):
            if self._ended is not None and not self._ended.done():
                self._ended.set_result(items)
            return
        if self._backoff is not None:
            self._backoff.reset()
        if not items:
            self._pop()  # unblocked, or a legacy server's retry: nothing to hand on
            return
        now = now_ms()
        local = self._local
        named = 0
        for raw in items:
            envelope = unpack_envelope(raw)
            named += len(envelope.channels)
            if envelope.expires_ms <= now:
                self._stats.incr("expired", len(envelope.channels))
                for channel in envelope.channels:
                    self._acks.add(channel)
            else:
                local.deliver(envelope)
        if named <= _ACK_INLINE:
            self._pop()  # at once, carrying the acks of what was just handed over
        else:
            # A big delivery (a group send to many of our channels): the receivers just
            # handed their messages run first instead of waiting behind packing and
            # writing an ack for every one of them (measured: 3.5 ms for 1,000).
            asyncio.get_running_loop().call_soon(self._pop)

    async def close(self) -> None:
        self._closing = True
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


Taken = list[tuple[bytes, memoryview]]  # (envelope as popped, its payload)


@dataclass(slots=True)
class _Want:
    future: asyncio.Future[Taken]
    n: int


class ChannelReader:
    def __init__(
        self,
        key: str,
        shard: Shard,
        stats: LayerStats,
        push_back: Callable[[list[bytes]], Awaitable[None]],
        on_idle: Callable[[ChannelReader], None],
    ) -> None:
        self._key = key
        self._shard = shard
        self._stats = stats
        self._push_back = push_back
        self._on_idle = on_idle
        self._waiters: deque[_Want] = deque()
        self._surplus: deque[tuple[bytes, memoryview]] = deque()
        self._popper: Popper | None = None
        self._popping = False
        self._connecting: asyncio.Task[None] | None = None
        self._retiring = False
        self._backoff: Backoff | None = None
        self._chores: set[asyncio.Task[None]] = set()
        self._closed = False

    def _wanted(self) -> int:
        return sum(w.n for w in self._waiters if not w.future.done())

    async def receive(self, n: int) -> list[memoryview]:
        want = _Want(asyncio.get_running_loop().create_future(), n)
        self._waiters.append(want)
        self._serve()
        if not want.future.done():
            self._kick()
        try:
            taken = await want.future
        except BaseException:
            if want.future.done() and not want.future.cancelled():
                if want.future.exception() is None:  # served, then cancelled: give back
                    self._surplus.extendleft(reversed(want.future.result()))
            elif want in self._waiters:
                self._waiters.remove(want)
            self._settle()
            raise
        return [payload for _, payload in taken]

    def _serve(self) -> None:
        """Hand popped messages to waiters, oldest waiter first."""
        while self._surplus and self._waiters:
            want = self._waiters.popleft()
            if want.future.done():
                continue
            count = min(want.n, len(self._surplus))
            want.future.set_result([self._surplus.popleft() for _ in range(count)])
        while self._waiters and self._waiters[0].future.done():
            self._waiters.popleft()

    def _kick(self) -> None:
        """Have a pop on the wire for what the waiters want, if there is none yet."""
        if self._popping or self._connecting is not None or self._closed:
            return
        wanted = self._wanted()
        if not wanted:
            self._idle()
            return
        popper = self._popper
        if popper is None and not self._shard.cluster:
            popper = self._popper = Popper(self._shard.node)
        if popper is None or not (popper.ready or popper.reuse()):
            self._connecting = asyncio.create_task(self._connect())
            return
        self._popping = True
        popper.pop(self._key, wanted, self._popped)

    async def _connect(self, failure: BaseException | None = None) -> None:
        """Get a connection (a task: connecting and backing off take awaits)."""
        try:
            while True:
                if failure is not None:
                    self._backoff = self._backoff or self._shard.node.new_backoff()
                    delay = self._backoff.delay()
                    await _wait_out(self._shard, failure, delay, f"reader {self._key}")
                    failure = None
                if not self._wanted():
                    return
                try:
                    node = await self._shard.node_for(self._key)
                    if self._popper is not None and self._popper.node is not node:
                        self._popper.release()  # the slot moved to another node
                        self._popper = None
                    self._popper = self._popper or Popper(node)
                    await self._popper.connect()
                    return
                except Exception as exc:
                    self._fail_popper(exc)
                    failure = exc
        finally:
            self._connecting = None
            if not self._closed:
                self._kick()

    def _fail_popper(self, exc: BaseException) -> None:
        if self._popper is not None:
            if isinstance(exc, CONNECTION_ERRORS):
                self._popper.node.note_failure(exc)
            self._popper.discard()

    def _popped(self, items: list[bytes] | BaseException) -> None:
        self._popping = False
        if self._closed:
            return
        if isinstance(items, BaseException):
            self._fail_popper(items)
            if self._wanted():
                self._connecting = asyncio.create_task(self._connect(items))
            else:
                self._idle()
            return
        if self._backoff is not None:
            self._backoff.reset()
        if items:
            now = now_ms()
            for raw in items:
                envelope = unpack_envelope(raw)
                if envelope.expires_ms <= now:
                    self._stats.incr("expired")
                else:
                    self._surplus.append((raw, envelope.payload))
            self._serve()
        self._kick()

    def _settle(self) -> None:
        """After a waiter left: stop a pop nobody wants, return what nobody will take."""
        self._serve()
        if self._wanted() or self._closed:
            return
        if self._popping and self._popper is not None:
            self._chore(self._popper.unblock())
        self._idle()

    def _idle(self) -> None:
        """Nobody waits. A worker's loop calls receive again as soon as the last one
        returned: give it one iteration to do so before retiring the reader."""
        if not self._retiring:
            self._retiring = True
            asyncio.get_running_loop().call_soon(self._retire)

    def _retire(self) -> None:
        self._retiring = False
        if self._wanted() or self._popping or self._connecting is not None:
            return
        if self._popper is not None:
            # The connection goes back to the node for any reader; the popper stays, to
            # take one again without an await when this channel is received next.
            self._popper.release()
        if self._surplus:
            self._give_back()
        self._on_idle(self)

    def _chore(self, coro: Awaitable[None]) -> None:
        async def run() -> None:
            try:
                await coro
            except Exception as exc:  # an unblock or push-back that could not be sent
                logger.debug("reader %s: %s", self._key, exc)

        def done(task: asyncio.Task[None]) -> None:
            self._chores.discard(task)
            self._on_idle(self)  # the last chore may be what kept an idle reader listed

        task = asyncio.create_task(run())
        self._chores.add(task)
        task.add_done_callback(done)

    def _give_back(self) -> None:
        leftover = [raw for raw, _ in self._surplus]
        self._surplus.clear()
        if self._closed:
            self._stats.incr("cancelled", len(leftover))
        else:
            self._chore(self._return(leftover))

    async def _return(self, leftover: list[bytes]) -> None:
        try:
            await self._push_back(leftover)
        except Exception:
            self._stats.incr("cancelled", len(leftover))

    @property
    def idle(self) -> bool:
        return (
            not self._popping
            and self._connecting is None
            and not self._waiters
            and not self._chores
            and not self._surplus
            and (self._popper is None or self._popper.wire is None)
        )

    async def close(self) -> None:
        self._closed = True
        if self._connecting is not None:
            self._connecting.cancel()
            await asyncio.gather(self._connecting, return_exceptions=True)
        for task in list(self._chores):
            task.cancel()
        await asyncio.gather(*self._chores, return_exceptions=True)
        if self._popper is not None:
            self._popper.discard()
        if self._surplus:
            self._give_back()
        for want in self._waiters:
            if not want.future.done():
                want.future.set_exception(LayerUnavailable("the layer was closed"))

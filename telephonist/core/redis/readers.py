"""The receive loops: one per process inbox, one per normal channel being received.

``InboxReader`` blocks on the process inbox for as long as the loop state lives and
files what it pops under the process's ``!`` channels (``local.py``). It is supervised:
any failure (a Redis restart, a failover, a ``MOVED`` slot) is logged, waited out with
backoff and jitter, and the loop resumes on a fresh connection, so pending receives keep
waiting instead of finding a dead loop. Acks queued for the inbox ride on its next pop.

``ChannelReader`` serves the local receivers of one normal channel. It pops exactly as
many messages as they are waiting for (a ``receive`` wants one, ``receive_many(n)``
wants ``n``), so worker processes blocked on the same channel share it fairly and none
hoards messages it is not ready for. It exists only while someone waits: when the last
waiter leaves, the pending pop is ``CLIENT UNBLOCK``-ed and anything popped that nobody
took is pushed back to the head of the list, in order (or counted ``cancelled`` if that
push fails: at-most-once allows the loss, the stats make it visible).
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
from .cluster import redirection
from .keys import now_ms, unpack_envelope
from .local import AckBuffer, LocalChannels
from .node import CONNECTION_ERRORS, Command
from .popper import Popper
from .shard import Shard

__all__ = ["ChannelReader", "InboxReader"]

logger = logging.getLogger("telephonist.layer.redis")

_INBOX_BATCH = 512  # the inbox is ours alone: take whatever is there, up to this


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
        self.task = asyncio.create_task(self._supervise(), name=f"telephonist-inbox-{tag}")
        self.task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
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
            self.task.add_done_callback(self._ended)

    async def _supervise(self) -> None:
        backoff = self._shard.node.new_backoff()
        while True:
            popper: Popper | None = None
            try:
                popper = Popper(await self._shard.node_for(self._key))
                await self._run(popper, backoff.reset)
            except asyncio.CancelledError:
                if popper is not None:
                    await popper.discard()
                raise
            except Exception as exc:
                if popper is not None:
                    if isinstance(exc, CONNECTION_ERRORS):
                        popper.node.note_failure(exc)
                    await popper.discard()
                await _wait_out(self._shard, exc, backoff.delay(), f"inbox reader {self.tag}")

    async def _run(self, popper: Popper, healthy: Callable[[], None]) -> None:
        while True:
            pending = self._acks.take(self.tag)
            before = [self._ack_command(self.tag, pending)] if pending else []

            def acked(replies: list[Any], pending: Counter[str] | None = pending) -> None:
                if pending and isinstance(replies[0], Exception):
                    for channel, n in pending.items():  # NOSCRIPT: the pipe path loads it
                        self._acks.add(channel, n)

            items = await popper.pop(self._key, lambda: _INBOX_BATCH, before, acked)
            healthy()
            now = now_ms()
            for raw in items:
                envelope = unpack_envelope(raw)
                if envelope.expires_ms <= now:
                    self._stats.incr("expired", len(envelope.channels))
                    for channel in envelope.channels:
                        self._acks.add(channel)
                else:
                    self._local.deliver(envelope)
            # Let the receivers just woken take their messages before the next pop, so
            # their acks ride on it instead of costing a round trip of their own.
            await asyncio.sleep(0)

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
        self._task: asyncio.Task[None] | None = None
        self._chores: set[asyncio.Task[None]] = set()
        self._closed = False

    def _wanted(self) -> int:
        return sum(w.n for w in self._waiters if not w.future.done())

    async def receive(self, n: int) -> list[memoryview]:
        want = _Want(asyncio.get_running_loop().create_future(), n)
        self._waiters.append(want)
        self._serve()
        if self._task is None and not want.future.done():
            self._task = asyncio.create_task(self._run())
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

    def _settle(self) -> None:
        """After a waiter left: stop a pop nobody wants, return what nobody will take."""
        self._serve()
        if self._wanted() or self._closed:
            return
        if self._popper is not None:
            self._chore(self._popper.unblock())
        if self._task is None and self._surplus:
            self._give_back()

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

    async def _run(self) -> None:
        backoff = self._shard.node.new_backoff()
        try:
            while True:
                if not self._wanted():
                    # A worker's loop calls receive again as soon as the last one returned:
                    # give it one iteration to do so before tearing the reader down.
                    await asyncio.sleep(0)
                    if not self._wanted():
                        break
                try:
                    node = await self._shard.node_for(self._key)
                    if self._popper is not None and self._popper.node is not node:
                        self._popper.release()  # the slot moved to another node
                        self._popper = None
                    self._popper = self._popper or Popper(node)
                    items = await self._popper.pop(self._key, self._wanted)
                except Exception as exc:
                    if self._popper is not None:
                        if isinstance(exc, CONNECTION_ERRORS):
                            self._popper.node.note_failure(exc)
                        await self._popper.discard()
                    await _wait_out(self._shard, exc, backoff.delay(), f"reader {self._key}")
                    continue
                backoff.reset()
                now = now_ms()
                for raw in items:
                    envelope = unpack_envelope(raw)
                    if envelope.expires_ms <= now:
                        self._stats.incr("expired")
                    else:
                        self._surplus.append((raw, envelope.payload))
                self._serve()
        finally:
            self._task = None
            if self._popper is not None:
                self._popper.release()
                self._popper = None
            if self._surplus:
                self._give_back()
            self._on_idle(self)

    async def _return(self, leftover: list[bytes]) -> None:
        try:
            await self._push_back(leftover)
        except Exception:
            self._stats.incr("cancelled", len(leftover))

    @property
    def idle(self) -> bool:
        return self._task is None and not self._waiters and not self._chores

    async def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for task in list(self._chores):
            task.cancel()
        await asyncio.gather(*self._chores, return_exceptions=True)
        if self._popper is not None:
            await self._popper.discard()
        for want in self._waiters:
            if not want.future.done():
                want.future.set_exception(LayerUnavailable("the layer was closed"))

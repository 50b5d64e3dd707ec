"""The receive loops, and what both do about a pop that fails.

Both loops (``ChannelReader`` here, ``InboxReader`` in ``inbox.py``) are chains of
callbacks on a blocking connection (``popper.py``): the callback that gets a pop's reply
files the messages and writes the next pop, inside the connection's ``data_received``,
so a message reaches the receiver waiting for it with no task waking in between. A task
exists only to (re)connect, with backoff (``wait_out``).

``ChannelReader`` serves the local receivers of one normal channel. It pops exactly as
many messages as they are waiting for (a ``receive`` wants one, ``receive_many(n)``
wants ``n``), so worker processes blocked on the same channel share it fairly and none
hoards messages it is not ready for. It holds a connection only while someone waits: when
the last waiter leaves, the pending pop is ``CLIENT UNBLOCK``-ed, anything popped that
nobody took is pushed back to the head of the list, in order (or counted ``cancelled``
if that push fails: at-most-once allows the loss, the stats make it visible), and the
connection goes back to the node. The reader object itself stays listed (a few, see
``state.py``): a worker receives on the same channels again and again. What it pops that
is not an envelope is dropped there (``drops.py``); payloads are decoded by the layer's
receive, inside an error boundary of their own.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from redis.exceptions import ResponseError

from ..exceptions import LayerUnavailable, MalformedMessage
from ..ratelog import RateLimitedLog
from ..stats import LayerStats
from .backoff import Backoff
from .cluster import redirection
from .drops import Drops
from .keys import now_ms, unpack_envelope
from .node import CONNECTION_ERRORS
from .popper import Popper
from .shard import Shard

__all__ = ["ChannelReader", "wait_out"]

logger = logging.getLogger("telephonist.layer.redis")


# A pop that keeps failing fails again after every backoff (at most a few seconds): say
# so once a minute, with a count, not a line (or a traceback) each time.
_failures = RateLimitedLog(logger)


async def wait_out(shard: Shard, exc: BaseException, delay: float, what: str) -> None:
    if redirection(exc) is not None:
        await shard.refresh()
    elif isinstance(exc, ResponseError):  # the server refused the pop: say what it said
        _failures.warning(f"{what} refused", "%s refused by Redis: %s; retrying", what, exc)
    elif not isinstance(exc, CONNECTION_ERRORS):  # a bug: the traceback tells where
        _failures.warning(f"{what} failed", "%s failed; restarting it", what, exc_info=exc)
    await asyncio.sleep(delay)  # backoff before retrying, not a poll


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
        drops: Drops,
        max_payload: int,
        where: str,
        queued: Callable[[int], None] | None = None,
    ) -> None:
        self._key = key
        self._queued = queued
        self._shard = shard
        self._stats = stats
        self._drops = drops
        self._max_payload = max_payload
        self.where = where  # "channel 'name'", for the log
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
                    await wait_out(self._shard, failure, delay, f"reader {self._key}")
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
                try:
                    envelope = unpack_envelope(raw, self._max_payload)
                except MalformedMessage as exc:
                    self._drops.malformed(self.where, exc)
                    continue
                if envelope.expires_ms <= now:
                    self._stats.incr("expired")
                else:
                    if self._queued is not None:
                        self._queued(envelope.expires_ms - now)
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

"""``Node``: one Redis server as seen from one event loop.

A node owns one *command connection* and a few *blocking connections*, each a ``Wire``
(``wire.py``: redis-py sets the connection up, then its replies go to callbacks):

- Every non-blocking command (send scripts, acks, group operations, ``CLIENT UNBLOCK``)
  goes through ``call()``, which queues it, or ``defer()``, which queues a function that
  builds commands at the last moment (the send buffer's one script call for all queued
  sends). The queue is written by a callback scheduled with ``call_soon``, so it runs
  after every task that is ready in this loop iteration has queued: concurrent callers
  share one write with no explicit batching API. There is one batch in flight per node:
  while it is out, new commands queue, and the callback that receives the batch's last
  reply writes the next batch straight away. Replies settle the callers' futures from
  ``data_received`` itself: no task stands between the socket and a caller.
- A blocking pop (``BLMPOP ... 0``) holds a connection for as long as the process is
  idle, so each receive loop gets a dedicated one (``open_blocking``).

At-most-once shapes the retry rule: a batch is retried only when its connection could
not be *established* (nothing was written, so nothing can have run). Once bytes are
written, a failure fails the batch's callers with ``LayerUnavailable``: the server may or
may not have run the commands, and a retry could deliver a message twice. A connection
that the server closed (a restart) is known to be closed as soon as the loop reads its
EOF, so the next batch goes to a fresh connection: a restart costs queued senders a
reconnect, not an error. A batch unanswered after the connection's ``socket_timeout``
(redis-py's setting) fails with ``LayerUnavailable`` and the connection is dropped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, NamedTuple

from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..exceptions import LayerUnavailable
from ..stats import LayerStats
from .backoff import Backoff
from .hosts import HostSpec
from .wire import Wire

__all__ = ["CONNECTION_ERRORS", "Command", "Node", "Request", "pack"]

logger = logging.getLogger("telephonist.layer.redis")

Command = tuple[Any, ...]


def _never() -> bool:
    return False


class Request(NamedTuple):
    """Commands for one round trip, and who gets their replies: ``done`` receives the
    replies, or the exception that failed the whole batch. ``abandoned()`` is true when
    nobody waits any more (a cancelled caller): such a request is not sent at all.
    (A tuple, not a frozen dataclass: one is built per batch.)"""

    commands: Sequence[Command]
    done: Callable[[list[Any] | BaseException], None]
    abandoned: Callable[[], bool] = _never


CONNECTION_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)

_QUIET = 1.0  # seconds without a reply after which a write first lets the loop read EOF


def pack(commands: Sequence[Command]) -> bytes:
    """RESP-encode ``commands`` into one buffer. Ours, not redis-py's ``pack_commands``:
    the layer's arguments are only bytes, str and int, and this is about five times
    faster, on a path every message takes (exact type checks first: an ack of 1,000
    channels is 2,000 arguments)."""
    out: list[bytes] = []
    append = out.append
    for command in commands:
        append(b"*%d\r\n" % len(command))
        for arg in command:
            kind = type(arg)
            if kind is str:
                data = arg.encode()
            elif kind is bytes:
                data = arg
            elif kind is int:
                data = b"%d" % arg
            elif isinstance(arg, bytes):
                data = bytes(arg)
            elif isinstance(arg, str):
                data = str(arg).encode()
            elif isinstance(arg, int):
                data = b"%d" % arg
            else:
                raise TypeError(f"cannot send {type(arg).__name__} to Redis: {arg!r}")
            append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


class Node:
    """Connections to one server for one event loop; see the module docstring."""

    def __init__(
        self, spec: HostSpec, stats: LayerStats, retry_budget: float, backoff_cap: float
    ) -> None:
        self.spec = spec
        self.name = spec.identity
        self._stats = stats
        self._retry_budget = retry_budget
        self._backoff_cap = backoff_cap
        self._pool = spec.make_pool()  # a connection factory; redis-py's checkout is unused
        self._wire: Wire | None = None
        self._timeout: float | None = None  # the command connection's socket_timeout
        self._connecting: asyncio.Task[None] | None = None
        self._queue: list[Request] = []
        self._deferred: list[Callable[[], list[Request]]] = []
        self._scheduled = False
        self._in_flight = False
        self._deadline: asyncio.TimerHandle | None = None
        self._last_answer = float("-inf")
        self._written_at = 0.0
        self._idle_blocking: list[Wire] = []
        self._failing = False
        self._down_since = 0.0  # time.monotonic() of the failure that began an outage
        self._refused = 0  # requests failed with LayerUnavailable since then
        self._closing = False
        self.legacy_pop = False  # the server has no BLMPOP (Redis < 7): see popper.py

    # -- health ---------------------------------------------------------------------

    @property
    def reachable(self) -> bool:
        """False from a lost connection until a connection succeeds again."""
        return not self._failing

    def note_failure(self, exc: BaseException) -> None:
        # One line when the outage begins and one when it ends (``note_success``), with
        # what it cost in between: an outage is two lines in the log, however long.
        if not self._failing:
            logger.warning("lost connection to Redis %s: %s", self.name, exc)
            self._down_since, self._refused = time.monotonic(), 0
        self._failing = True

    def note_success(self) -> None:
        if self._failing:
            self._failing = False
            self._stats.incr("reconnects")
            logger.warning(
                "reconnected to Redis %s after %.1fs; %d requests refused meanwhile",
                self.name,
                time.monotonic() - self._down_since,
                self._refused,
            )

    def _refuse(self, batch: list[Request], exc: BaseException) -> None:
        """Fail ``batch`` with ``exc``: a connection failure, counted for the log."""
        if not self._closing:
            self._refused += len(batch)
        _fail(batch, exc)

    def new_backoff(self) -> Backoff:
        return Backoff(cap=self._backoff_cap)

    async def connect(self, conn: AbstractConnection) -> None:
        """Connect ``conn`` (redis-py's set-up), with backoff, within the retry budget."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._retry_budget
        backoff: Backoff | None = None
        while True:
            try:
                await conn.disconnect()
                await conn.connect()  # type: ignore[no-untyped-call]
                self.note_success()
                return
            except CONNECTION_ERRORS as exc:
                self.note_failure(exc)
                backoff = backoff or self.new_backoff()
                delay = backoff.delay()
                if loop.time() + delay > deadline:
                    raise LayerUnavailable(
                        f"Redis {self.name} unreachable for {self._retry_budget}s: {exc}"
                    ) from exc
                await asyncio.sleep(delay)  # backoff before reconnecting, not a poll

    async def _open(self, blocking: bool) -> Wire:
        if blocking:
            # No read timeout: the pop blocks for as long as nothing arrives.
            kwargs = {**self._pool.connection_kwargs, "socket_timeout": None}
            conn: AbstractConnection = self._pool.connection_class(**kwargs)
        else:
            conn = self._pool.make_connection()  # type: ignore[no-untyped-call]
        await self.connect(conn)
        if not blocking:
            self._timeout = conn.socket_timeout
        return Wire.attach(conn, self.name)

    # -- the coalescing command pipe ------------------------------------------------

    async def call(self, commands: Sequence[Command]) -> list[Any]:
        """Run ``commands`` in order; returns one reply each (``ResponseError`` instances
        in place of error replies). Raises ``LayerUnavailable`` on connection failure."""
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._queue.append(Request(commands, partial(_settle, future), future.done))
        self._schedule()
        return await future

    def defer(self, build: Callable[[], list[Request]]) -> None:
        """Have ``build()`` called when the next batch is written, and its requests sent
        with it. A send buffer uses this to turn every send queued until then into one
        script call, with no task of its own between the sender and the socket."""
        self._deferred.append(build)
        self._schedule()

    def _schedule(self) -> None:
        if not self._scheduled and not self._in_flight:
            self._scheduled = True
            loop = asyncio.get_running_loop()
            now = loop.time()
            if now - self._last_answer < _QUIET:
                # Runs on the next loop iteration, after every caller that is ready in
                # this one has queued: that is the coalescing.
                loop.call_soon(self._flush)
            else:
                # After a quiet spell the server may have gone away (a restart): as a
                # timer, the flush runs after the loop has read whatever the socket has,
                # so an EOF marks the connection closed before anything is written to it.
                loop.call_at(now, self._flush)

    def _take(self) -> list[Request]:
        batch, self._queue = self._queue, []
        deferred, self._deferred = self._deferred, []
        for build in deferred:
            batch += build()
        return [request for request in batch if not request.abandoned()]

    def _flush(self) -> None:
        self._scheduled = False
        if self._in_flight or not (self._queue or self._deferred):
            return
        wire = self._wire
        if wire is None or wire.closed:
            if self._connecting is None:
                self._connecting = asyncio.create_task(self._reconnect())
            return
        batch = self._take()
        if not batch:
            return
        commands = [command for request in batch for command in request.commands]
        try:
            data = pack(commands)
        except Exception as exc:  # a bad argument: tell the callers, never hang
            _fail(batch, exc)
            return
        self._in_flight = True
        wire.write(data, [(len(commands), partial(self._answered, batch))])
        if self._timeout is not None:
            loop = asyncio.get_running_loop()
            self._written_at = loop.time()
            if self._deadline is None:
                # One watchdog, re-armed from the batch in flight when it fires, rather
                # than a timer per batch: under load that is one timer per timeout.
                self._deadline = loop.call_at(self._written_at + self._timeout, self._watch)

    def _answered(self, batch: list[Request], replies: list[Any] | Exception) -> None:
        self._in_flight = False
        self._last_answer = asyncio.get_running_loop().time()
        if isinstance(replies, BaseException):
            if not self._closing:
                self.note_failure(replies)
            self._refuse(batch, LayerUnavailable(f"Redis {self.name}: {replies}"))
        else:
            start = 0
            for request in batch:
                request.done(replies[start : start + len(request.commands)])
                start += len(request.commands)
        if self._queue or self._deferred:
            self._flush()  # queued while this batch was out: written at once

    def _watch(self) -> None:
        self._deadline = None
        wire = self._wire
        if not self._in_flight or self._timeout is None or wire is None:
            return
        loop = asyncio.get_running_loop()
        due = self._written_at + self._timeout
        if loop.time() < due:
            self._deadline = loop.call_at(due, self._watch)
        else:
            wire.abort(RedisTimeoutError(f"no reply within {self._timeout}s"))

    async def _reconnect(self) -> None:
        try:
            self._wire = await self._open(blocking=False)
        except BaseException as exc:
            batch = self._take()
            if isinstance(exc, LayerUnavailable):
                self._refuse(batch, exc)
            elif isinstance(exc, asyncio.CancelledError):
                _fail(batch, exc)
            elif isinstance(exc, CONNECTION_ERRORS):
                self._refuse(batch, LayerUnavailable(f"Redis {self.name}: {exc}"))
            else:
                _fail(batch, exc)  # a bug or a bad option: surface it as it is
            if not isinstance(exc, Exception):
                raise  # cancellation (close()) propagates once the callers are told
            return
        finally:
            self._connecting = None
        self._flush()

    # -- blocking connections -------------------------------------------------------

    def idle_blocking(self) -> Wire | None:
        """A healthy blocking connection given back by an earlier receive loop, if any."""
        while self._idle_blocking:
            wire = self._idle_blocking.pop()
            if not wire.closed:
                return wire
        return None

    async def open_blocking(self) -> Wire:
        """A connection of its own for a blocking pop."""
        return self.idle_blocking() or await self._open(blocking=True)

    def release_blocking(self, wire: Wire) -> None:
        if not wire.closed:
            self._idle_blocking.append(wire)

    async def close(self) -> None:
        self._closing = True
        if self._connecting is not None:
            self._connecting.cancel()
            await asyncio.gather(self._connecting, return_exceptions=True)
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        _fail(self._queue, LayerUnavailable("layer closed"))
        for build in self._deferred:
            _fail(build(), LayerUnavailable("layer closed"))
        self._queue, self._deferred = [], []
        wires = [*self._idle_blocking, *([self._wire] if self._wire else [])]
        self._idle_blocking, self._wire = [], None
        for wire in wires:
            wire.close()  # fails a batch still out: its callers are told
        self._in_flight = False
        await self._pool.disconnect()


def _settle(future: asyncio.Future[list[Any]], outcome: list[Any] | BaseException) -> None:
    if future.done():
        return
    if isinstance(outcome, asyncio.CancelledError):
        future.cancel()
    elif isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def _fail(batch: Sequence[Request], exc: BaseException) -> None:
    for request in batch:
        request.done(exc)

"""``Node``: one Redis server as seen from one event loop.

A node owns one *command connection* and a few *blocking connections*:

- Every non-blocking command (send scripts, acks, group operations, ``CLIENT UNBLOCK``)
  goes through ``call()``, which queues it, or ``defer()``, which queues a function that
  builds commands at the last moment (the send buffer's one script call for all queued
  sends). Once per event-loop iteration everything queued is written in one write and
  the replies are read back in order. Concurrent callers therefore share round trips
  with no explicit batching API, and there is exactly one batch in flight per node:
  while it is out, new commands queue for the next.
- A blocking pop (``BLMPOP ... 0``) holds a connection for as long as the process is
  idle, so each receive loop gets a dedicated one (``acquire_blocking``).

At-most-once shapes the retry rule: a batch is retried only when its connection could
not be *established* (nothing was written, so nothing can have run). Once bytes are
written, a failure fails the batch's callers with ``LayerUnavailable``: the server may or
may not have run the commands, and a retry could deliver a message twice. A connection
that the server closed (a restart) is noticed before writing (EOF is already buffered)
and replaced, so a restart costs queued senders a reconnect, not an error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..exceptions import LayerUnavailable
from ..stats import LayerStats
from .backoff import Backoff
from .hosts import HostSpec

__all__ = ["CONNECTION_ERRORS", "Command", "Node", "Request", "pack"]

logger = logging.getLogger("telephonist.layer.redis")

Command = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Request:
    """Commands for one round trip, and who gets their replies: ``done`` receives the
    replies, or the exception that failed the whole batch. ``abandoned()`` is true when
    nobody waits any more (a cancelled caller): such a request is not sent at all."""

    commands: Sequence[Command]
    done: Callable[[list[Any] | BaseException], None]
    abandoned: Callable[[], bool] = lambda: False


CONNECTION_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)


def pack(commands: Sequence[Command]) -> bytes:
    """RESP-encode ``commands`` into one buffer. Ours, not redis-py's ``pack_commands``:
    the layer's arguments are only bytes, str and int, and this is about three times
    faster, on a path every message takes."""
    out: list[bytes] = []
    for command in commands:
        out.append(b"*%d\r\n" % len(command))
        for arg in command:
            if isinstance(arg, bytes):
                data = arg
            elif isinstance(arg, str):
                data = arg.encode()
            elif isinstance(arg, int):
                data = b"%d" % arg
            else:
                raise TypeError(f"cannot send {type(arg).__name__} to Redis: {arg!r}")
            out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(out)


async def is_stale(conn: AbstractConnection) -> bool:
    """True if the server closed ``conn`` or left unread data on it (reuse would desync)."""
    if not conn.is_connected:
        return False
    # EOF first, from the stream itself: redis-py 5.0's check reads zero bytes at EOF
    # and calls the connection healthy, so a restarted server went unnoticed.
    reader = getattr(conn, "_reader", None)
    if isinstance(reader, asyncio.StreamReader) and reader.at_eof():
        return True
    check = getattr(conn, "can_read", None) or conn.can_read_destructive  # redis-py < 8
    try:
        return bool(await check())
    except CONNECTION_ERRORS:
        return True


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
        self._conn: AbstractConnection | None = None
        self._queue: list[Request] = []
        self._deferred: list[Callable[[], list[Request]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._idle_blocking: list[AbstractConnection] = []
        self._failing = False
        self.legacy_pop = False  # the server has no BLMPOP (Redis < 7): see popper.py

    # -- health ---------------------------------------------------------------------

    def note_failure(self, exc: BaseException) -> None:
        if not self._failing:
            logger.warning("lost connection to Redis %s: %s", self.name, exc)
        self._failing = True

    def note_success(self) -> None:
        if self._failing:
            self._failing = False
            self._stats.incr("reconnects")
            logger.warning("reconnected to Redis %s", self.name)

    def new_backoff(self) -> Backoff:
        return Backoff(cap=self._backoff_cap)

    async def connect(self, conn: AbstractConnection) -> None:
        """(Re)connect ``conn`` if needed, with backoff, within the retry budget."""
        if conn.is_connected and not await is_stale(conn):
            return  # the hot path: one buffer check, no allocation
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

    # -- the coalescing command pipe ------------------------------------------------

    async def call(self, commands: Sequence[Command]) -> list[Any]:
        """Run ``commands`` in order; returns one reply each (``ResponseError`` instances
        in place of error replies). Raises ``LayerUnavailable`` on connection failure."""
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._queue.append(Request(commands, partial(_settle, future), future.done))
        self._start_flusher()
        return await future

    def defer(self, build: Callable[[], list[Request]]) -> None:
        """Have ``build()`` called when the next batch is written, and its requests sent
        with it. A send buffer uses this to turn every send queued until then into one
        script call, with no task of its own between the sender and the socket."""
        self._deferred.append(build)
        self._start_flusher()

    def _start_flusher(self) -> None:
        if self._flusher is None:
            # Started as a task, it first runs on the next loop iteration, after every
            # sender that is ready in this one has queued: that is the coalescing.
            self._flusher = asyncio.create_task(self._flush())

    async def _flush(self) -> None:
        try:
            while self._queue or self._deferred:
                batch, self._queue = self._queue, []
                deferred, self._deferred = self._deferred, []
                for build in deferred:
                    batch += build()
                live = [request for request in batch if not request.abandoned()]
                if live:
                    await self._run_batch(live)
        finally:
            self._flusher = None

    async def _run_batch(self, batch: list[Request]) -> None:
        commands = [command for request in batch for command in request.commands]
        try:
            if self._conn is None:
                self._conn = self._pool.make_connection()  # type: ignore[no-untyped-call]
        except Exception as exc:  # a bad connection option: tell the callers, never hang
            _fail(batch, exc)
            return
        conn = self._conn
        try:
            await self.connect(conn)
            await conn.send_packed_command(pack(commands), check_health=False)
            replies: list[Any] = []
            for _ in commands:
                try:
                    replies.append(await conn.read_response())
                except ResponseError as exc:  # one command's error, the rest still count
                    replies.append(exc)
        except BaseException as exc:
            if not isinstance(exc, LayerUnavailable):
                await conn.disconnect(nowait=True)
                if isinstance(exc, CONNECTION_ERRORS):
                    self.note_failure(exc)
            if isinstance(exc, (LayerUnavailable, asyncio.CancelledError)):
                _fail(batch, exc)
            elif isinstance(exc, CONNECTION_ERRORS):
                _fail(batch, LayerUnavailable(f"Redis {self.name}: {exc}"))
            else:
                _fail(batch, exc)  # a bug or a bad option: surface it as it is
            if not isinstance(exc, Exception):
                raise  # cancellation (close()) propagates once the callers are told
            return
        start = 0
        for request in batch:
            request.done(replies[start : start + len(request.commands)])
            start += len(request.commands)

    # -- blocking connections -------------------------------------------------------

    def acquire_blocking(self) -> AbstractConnection:
        """A connection of its own for a blocking pop (not yet connected if new)."""
        if self._idle_blocking:
            return self._idle_blocking.pop()
        # No read timeout: the pop blocks for as long as nothing arrives.
        kwargs = {**self._pool.connection_kwargs, "socket_timeout": None}
        conn: AbstractConnection = self._pool.connection_class(**kwargs)
        return conn

    def release_blocking(self, conn: AbstractConnection) -> None:
        self._idle_blocking.append(conn)

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)
        _fail(self._queue, LayerUnavailable("layer closed"))
        for build in self._deferred:
            _fail(build(), LayerUnavailable("layer closed"))
        self._queue, self._deferred = [], []
        conns = [*self._idle_blocking, *([self._conn] if self._conn else [])]
        self._idle_blocking, self._conn = [], None
        for conn in conns:
            await conn.disconnect()
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

"""Connection affinity, host side: which worker serves each connection.

Theory of operation
-------------------
A connection starts NEW. Its first event goes to the shared channel (``linechat.connect``)
where any worker may take it; the connection becomes BINDING with a deadline. Later
events wait in a small per-connection buffer (``pending_limit``; beyond it ``send``
raises ``ChannelFull`` so the interface answers overload). The worker that took the
first event sends ``telephonist.bind``; the host flushes the buffer to that worker's
inbox, in order, and the connection is BOUND: every later event goes to the same inbox.
Closing a BOUND connection sends the worker a release, after its last event. A BINDING
connection the interface closes stays in the table, marked closed, until the bind: its
buffered events (an ``http.disconnect`` sent just before the close) then go out, and
the release after them. Dropping them at the close would lose exactly the event that
tells the consumer its client is gone.

Nothing waits forever. A BINDING connection whose bind does not arrive by its deadline
(the first event was lost, expired or nobody routes it) is aborted; a closed one has
its buffered events dropped and counted (``pending_dropped``). A worker is alive
while its heartbeats arrive; after ``heartbeat_misses`` intervals of silence, or on its
``telephonist.gone``, every connection bound to it is aborted. Aborting hands the
interface ``ABORT`` and the interface ends the connection its protocol's way.

The watchdog sleeps until the nearest deadline and no longer: with no connection
waiting for a bind and no worker bound, it waits on an event and the host is idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..affinity import control
from ..config.model import AffinitySettings
from ..core.base import BaseChannelLayer
from ..core.codec import Content
from ..core.exceptions import ChannelFull, MessageTooLarge

__all__ = ["Affinity"]

log = logging.getLogger("telephonist.affinity")

NEW, BINDING, BOUND, ABORTED = "new", "binding", "bound", "aborted"
DETACHED = "detached"  # a single-event connection: no worker is bound to it, ever
_INF = float("inf")


@dataclass(eq=False, slots=True)
class _Conn:
    name: str
    state: str = NEW
    order: int = 0
    worker: str | None = None
    deadline: float = _INF
    pending: deque[tuple[str, Content]] = field(default_factory=deque)
    closed: bool = False  # closed by the interface while BINDING: kept for its events


@dataclass(eq=False, slots=True)
class _Worker:
    prefix: str
    interval: float
    last_seen: float
    connections: set[str] = field(default_factory=set)
    releases: list[str] = field(default_factory=list)  # releases the inbox refused


class Affinity:
    """The host's connection table. ``abort(connection, reason)`` is how it tells the
    reply-channel side to hand the connection's handler ``ABORT``."""

    def __init__(
        self,
        layer: BaseChannelLayer,
        host_prefix: str,
        settings: AffinitySettings,
        counters: Counter[str],
        abort: Callable[[str, str], None],
    ) -> None:
        self._layer = layer
        self._prefix = host_prefix
        self._settings = settings
        self._counters = counters
        self._abort_cb = abort
        self._conns: dict[str, _Conn] = {}
        self._workers: dict[str, _Worker] = {}
        self._bind_heap: list[tuple[float, str]] = []
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop = asyncio.get_running_loop()

    # -- connections ------------------------------------------------------------------

    def open(self, connection: str) -> None:
        self._conns[connection] = _Conn(connection)

    def close(self, connection: str) -> None:
        conn = self._conns.get(connection)
        if conn is None or conn.closed:
            return
        if conn.state == BINDING:
            # Events sent before the close (an HTTP client's ``http.disconnect``) wait for
            # the bind like any others: ``_bind`` delivers them and then the release, or
            # the bind deadline drops and counts them.
            conn.closed = True
            return
        del self._conns[connection]
        if conn.worker is None:
            return  # NEW, DETACHED, or aborted before any bind: no worker to tell
        worker = self._workers.get(conn.worker)
        if worker is not None:
            worker.connections.discard(connection)
        self._spawn(self._release(conn.worker, connection))

    async def send(
        self, channel: str, message: Content, connection: str, last: bool = False
    ) -> None:
        conn = self._conns.get(connection)
        if conn is None or conn.closed:
            # Not a connection this host opened (or one already closed): no affinity to
            # keep, so the event goes where any worker can take it.
            self._counters["unaffiliated"] += 1
            await self._send(channel, {**message, "reply_channel": connection})
            return
        stamped = {**message, "reply_channel": connection, "order": conn.order}
        if conn.state == DETACHED or (last and conn.state == NEW):
            # A single-event connection: no bind, no heartbeats, no release. Anything
            # the interface still sends (an ``http.disconnect``) goes the same way.
            stamped[control.DETACHED] = True
            await self._send(channel, stamped)
            if conn.state == NEW:
                conn.state = DETACHED
                self._counters["detached"] += 1
        elif conn.state == BOUND:
            assert conn.worker is not None
            await self._send(control.inbox_of(conn.worker), control.event(channel, stamped))
        elif conn.state == NEW:
            # BINDING before the send, not after: over Redis a fast worker can take the
            # event and its bind can reach us before this send call returns.
            conn.state = BINDING
            conn.order += 1
            try:
                await self._send(channel, stamped)
            except BaseException:
                if not conn.pending and conn.state == BINDING:
                    conn.state, conn.order = NEW, conn.order - 1
                raise
            if conn.state == BINDING and conn.worker is None:  # no bind arrived meanwhile
                conn.deadline = self._loop.time() + self._settings.bind_timeout
                heapq.heappush(self._bind_heap, (conn.deadline, connection))
                self._wake.set()
            return
        elif conn.state == BINDING:
            if len(conn.pending) >= self._settings.pending_limit:
                self._counters["pending_full"] += 1
                raise ChannelFull(f"{connection} is waiting for its worker; buffer is full")
            conn.pending.append((channel, stamped))
        else:
            self._counters["aborted"] += 1
            return
        conn.order += 1

    async def _send(self, channel: str, message: Content) -> None:
        try:
            await self._layer.send(channel, message)
        except ChannelFull:
            self._counters["full"] += 1
            raise
        except MessageTooLarge:
            self._counters["too_large"] += 1
            raise
        self._counters["events"] += 1

    # -- control messages from workers ------------------------------------------------

    async def handle_control(self, message: Content) -> None:
        kind = message.get("type")
        worker = control.field(message, "worker", str)
        if worker is None:
            log.warning("ignored malformed control message %r", kind)
            return
        if kind == control.BIND:
            connection = control.field(message, "connection", str)
            interval = control.field(message, "interval", (int, float)) or 1.0
            if connection is not None:
                await self._bind(connection, worker, float(interval))
        elif kind == control.HEARTBEAT:
            await self._heartbeat(worker, control.field(message, "interval", (int, float)))
        elif kind == control.GONE:
            self._lose_worker(worker, "its worker stopped")
        else:
            log.warning("ignored unknown control message %r", kind)

    def _worker(self, prefix: str, interval: float) -> _Worker:
        record = self._workers.get(prefix)
        if record is None:
            record = self._workers[prefix] = _Worker(prefix, interval, self._loop.time())
            self._wake.set()
        return record

    async def _bind(self, connection: str, prefix: str, interval: float) -> None:
        conn = self._conns.get(connection)
        if conn is None or conn.state != BINDING or conn.worker is not None:
            # Too late (aborted or closed) or a second taker: that worker must not keep
            # state for a connection nobody will send to.
            self._counters["late_binds"] += 1
            await self._release(prefix, connection)
            return
        worker = self._worker(prefix, interval)
        worker.last_seen = self._loop.time()
        if not worker.connections:
            # The watchdog ignores workers without connections and may be asleep until a
            # bind deadline (``bind_timeout``) far beyond this worker's heartbeat limit;
            # a known worker taking its first connection must be watched from now on.
            self._wake.set()
        worker.connections.add(connection)
        conn.worker, conn.deadline = prefix, _INF
        inbox = control.inbox_of(prefix)
        # Events sent while we flush join ``pending`` (state is still BINDING), so the
        # order holds without a lock.
        while conn.pending and conn.state == BINDING:
            channel, stamped = conn.pending.popleft()
            try:
                await self._send(inbox, control.event(channel, stamped))
            except (ChannelFull, MessageTooLarge):
                log.warning("event %s of %s dropped on flush", stamped.get("order"), connection)
        if conn.closed:
            # Closed while binding: its events are out, the release follows them.
            worker.connections.discard(connection)
            self._drop(conn)
            if conn.state == BINDING:
                await self._release(prefix, connection)
        elif conn.state == BINDING:
            conn.state = BOUND

    async def _heartbeat(self, prefix: str, interval: float | None) -> None:
        worker = self._workers.get(prefix)
        bound = 0
        released: list[str] = []
        if worker is not None:
            worker.last_seen = self._loop.time()
            if interval:
                if interval < worker.interval:
                    self._wake.set()  # its limit moved closer than the watchdog's sleep
                worker.interval = float(interval)
            bound, released, worker.releases = len(worker.connections), worker.releases, []
            self._forget_if_idle(worker)
        message = control.ack(self._prefix, released)
        message["bound"] = bound
        try:
            await self._layer.send(control.inbox_of(prefix), message)
        except ChannelFull:
            self._counters["full"] += 1  # the next heartbeat gets the next ack

    async def _release(self, prefix: str, connection: str) -> None:
        try:
            await self._layer.send(control.inbox_of(prefix), control.release(connection))
        except ChannelFull:
            worker = self._workers.get(prefix)
            if worker is not None and len(worker.releases) < 10_000:
                worker.releases.append(connection)  # retried with the next ack
        except Exception:
            log.exception("could not release %s on %s", connection, prefix)
        else:
            worker = self._workers.get(prefix)
            if worker is not None:
                self._forget_if_idle(worker)

    def _forget_if_idle(self, worker: _Worker) -> None:
        if not worker.connections and not worker.releases:
            self._workers.pop(worker.prefix, None)

    # -- timeouts ---------------------------------------------------------------------

    def _abort(self, conn: _Conn, reason: str, counter: str) -> None:
        conn.state, conn.deadline = ABORTED, _INF
        self._counters[counter] += 1
        if conn.pending:
            self._counters["pending_dropped"] += len(conn.pending)
            conn.pending.clear()
        if conn.closed:
            # The interface is done with it: nobody to tell, nothing left to keep.
            self._drop(conn)
            log.warning("dropped the events of closed %s: %s", conn.name, reason)
            return
        log.warning("aborting %s: %s", conn.name, reason)
        self._abort_cb(conn.name, reason)

    def _drop(self, conn: _Conn) -> None:
        if self._conns.get(conn.name) is conn:
            del self._conns[conn.name]

    def _lose_worker(self, prefix: str, reason: str) -> None:
        worker = self._workers.pop(prefix, None)
        if worker is None:
            return
        for name in worker.connections:
            conn = self._conns.get(name)
            if conn is not None and conn.state != ABORTED:
                self._abort(conn, reason, "worker_lost")

    def _check(self, now: float) -> float:
        """Abort what is overdue; return the next deadline."""
        heap = self._bind_heap
        while heap and heap[0][0] <= now:
            deadline, name = heapq.heappop(heap)
            conn = self._conns.get(name)
            if conn is not None and conn.state == BINDING and conn.deadline == deadline:
                self._abort(conn, "no worker took its first event in time", "bind_timeout")
        nearest = heap[0][0] if heap else _INF
        for worker in list(self._workers.values()):
            limit = worker.last_seen + worker.interval * self._settings.heartbeat_misses
            if not worker.connections:
                continue
            if limit <= now:
                self._lose_worker(worker.prefix, "its worker stopped sending heartbeats")
            else:
                nearest = min(nearest, limit)
        return nearest

    async def run_watchdog(self) -> None:
        while True:
            self._wake.clear()
            nearest = self._check(self._loop.time())
            timeout = None if nearest == _INF else max(0.0, nearest - self._loop.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    def _spawn(self, coro: Any) -> None:
        task = self._loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait_background(self, within: float) -> None:
        """Let queued release messages go out before the host stops."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=within)

    def snapshot(self) -> dict[str, Any]:
        states = Counter("closing" if c.closed else c.state for c in self._conns.values())
        return {
            "connections": dict(states),
            "workers": {w.prefix: len(w.connections) for w in self._workers.values()},
        }

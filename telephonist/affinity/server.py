"""Connection affinity, interface-server side: which worker serves each connection.

Theory of operation
-------------------
Everything that decides what happens to a connection's events lives in this file, as
in h11: no I/O, no asyncio, no clock of its own. Each method takes one event (the
interface sent an event, closed a connection; a worker's bind, heartbeat or goodbye
arrived; time passed) and ``now`` where time matters, updates the table and returns
what to do: a message to send, or actions (:mod:`.actions`: Abort, Release, Flush, Ack,
Forget). :meth:`ServerTable.event`, on every event's path, takes a ``clock`` instead and
reads it only for a connection's first event.

``deadline`` is the earliest time :meth:`ServerTable.expire` must be called. Only
``expire`` moves it later; an event that brings it closer calls ``sooner(deadline)`` so
a sleeping driver can wake. The driver (:mod:`telephonist.server.affinity`) feeds
events, performs the actions, and sleeps until ``deadline``.

A connection starts NEW. Its first event goes to the shared channel (``linechat.connect``)
where any worker may take it, and the connection is BINDING until ``bind_timeout``.
Later events wait in a small buffer (``pending_limit``; beyond it ``ChannelFull``, so the
interface answers overload). The worker that took the first event binds it; the buffer
is FLUSHING to that worker's inbox, and events sent meanwhile join the buffer, so the
order holds across the flush (the driver pulls one buffered event at a time). Then it
is BOUND: every event goes to that inbox, and the close sends a release after the last
one. A connection the interface closes while BINDING is kept (BINDING_CLOSED) until the
bind: its buffered events (an ``http.disconnect`` sent just before the close) still go
out, the release after them. A single-event connection (first event sent with
``last=True``) is DETACHED: its events go to the shared channel marked so that the
worker binds nothing, and nobody watches it.

Nothing waits forever. A bind that does not come by the deadline aborts the connection
(or, closed, drops and counts its buffer). A worker is alive while its heartbeats
arrive; after ``heartbeat_misses`` of its intervals of silence, or on its goodbye, its
connections are aborted. ABORT is how the interface learns it must end a connection.

Silence means nothing while this server's own layer is down (a Redis restart, a
failover): no heartbeat could reach it. Between :meth:`ServerTable.layer_down` and
:meth:`ServerTable.layer_back` no worker is taken for lost (``expire`` only asks to be
called again an interval later, to look at the layer), and on the way back every worker
gets its whole allowance again from then: connections outlive a layer outage that their
worker outlives.

A connection opened with ``rebind=True`` is a *conversation* that outlives any worker
(an IRC channel, a Slack channel: nobody can reconnect it, and its reply channel is in
the groups of its rooms). Where another connection is aborted, it goes back to NEW
instead (Unbind: logged, its buffer counted as dropped): its next event goes to the
shared channel and binds a worker again, and its reply channel stays open, so what
is sent to its groups meanwhile still reaches it.

Transitions (``-`` leaves the table; late bind: a release goes back to that worker)::

    state            event                     next             actions
    (none)           event                     (none)           send to its channel, unstamped
    (none)           bind                      (none)           late bind
    NEW              event                     BINDING          send to its channel, order 0
    NEW              event, last=True          DETACHED         send to its channel, detached
    NEW              first send failed         NEW              (back to before the event)
    NEW, DETACHED    close                     -
    BINDING          event                     BINDING          buffer (ChannelFull when full)
    BINDING          first send failed         NEW              (only with nothing buffered)
    BINDING          bind                      FLUSHING         Flush
    BINDING          close                     BINDING_CLOSED
    BINDING          bind deadline             ABORTED          Abort, buffer counted
    BINDING_CLOSED   bind                      FLUSHING_CLOSED  Flush
    BINDING_CLOSED   bind deadline             -                Forget, buffer counted
    FLUSHING         event                     FLUSHING         buffer (joins the flush)
    FLUSHING         buffer empty              BOUND
    FLUSHING         close                     FLUSHING_CLOSED
    FLUSHING         worker lost               ABORTED          Abort, buffer counted
    FLUSHING_CLOSED  buffer empty              -                Release
    FLUSHING_CLOSED  worker lost               -                Forget, buffer counted
    BOUND            event                     BOUND            send to the worker's inbox
    BOUND            close                     -                Release
    BOUND            worker lost               ABORTED          Abort
    DETACHED         event                     DETACHED         send to its channel, detached
    ABORTED          event                     ABORTED          dropped, counted
    ABORTED          close                     -                Release if it had a worker
    BINDING+rebind   bind deadline             NEW              Unbind, buffer counted
    FLUSHING+rebind  worker lost               NEW              Unbind, buffer counted
    BOUND+rebind     worker lost               NEW              Unbind
    any other        bind                      unchanged        late bind

``+rebind``: a connection opened with ``rebind=True`` (a conversation, above); its other
rows are those of any connection. "worker lost" is its goodbye (``telephonist.gone``) or
``expire`` finding it silent past its limit. A heartbeat answers with :class:`Ack` (and
the releases its inbox refused).

The fast path: BOUND + event, every event of a long-lived connection, is the first test
in :meth:`ServerTable.event` and returns ``(inbox, envelope)`` directly: the stamped
event and its envelope are the only objects made, no action list, no deadline, no
reading of the clock.
"""

from __future__ import annotations

import enum
import heapq
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..config.model import AffinitySettings
from ..core.codec import Content
from ..core.exceptions import ChannelFull
from . import control
from .actions import Abort, Ack, Flush, Forget, Release, Unbind
from .actions import ServerAction as Action

__all__ = ["INF", "Clock", "Send", "ServerState", "ServerTable"]

INF = float("inf")

#: A message to send: ``(channel, message)``.
Send = tuple[str, Content]
#: Returns ``now`` (the driver's loop time; a fake clock in tests).
Clock = Callable[[], float]


class ServerState(enum.Enum):
    NEW = "new"
    BINDING = "binding"
    BINDING_CLOSED = "binding_closed"
    FLUSHING = "flushing"
    FLUSHING_CLOSED = "flushing_closed"
    BOUND = "bound"
    DETACHED = "detached"
    ABORTED = "aborted"


NEW = ServerState.NEW
BINDING = ServerState.BINDING
BINDING_CLOSED = ServerState.BINDING_CLOSED
FLUSHING = ServerState.FLUSHING
FLUSHING_CLOSED = ServerState.FLUSHING_CLOSED
BOUND = ServerState.BOUND
DETACHED = ServerState.DETACHED
ABORTED = ServerState.ABORTED

_WAITING = (BINDING, BINDING_CLOSED)  # a bind is welcome
_FLUSHING = (FLUSHING, FLUSHING_CLOSED)
_CLOSED = (BINDING_CLOSED, FLUSHING_CLOSED)  # closed by the interface, kept for its events
# ``telephonist status`` labels (unchanged since before the table had these states).
_LABELS = {
    NEW: "new",
    BINDING: "binding",
    FLUSHING: "binding",
    BINDING_CLOSED: "closing",
    FLUSHING_CLOSED: "closing",
    BOUND: "bound",
    DETACHED: "detached",
    ABORTED: "aborted",
}

_EVENT = control.EVENT
BIND_TIMEOUT = "no worker took its first event in time"
WORKER_SILENT = "its worker stopped sending heartbeats"
WORKER_GONE = "its worker stopped"
_RELEASES_KEPT = 10_000  # per worker: refused releases waiting for its next ack


@dataclass(eq=False, slots=True)
class _Conn:
    name: str
    state: ServerState = NEW
    order: int = 0  # the next event's
    worker: str | None = None
    inbox: str = ""
    deadline: float = INF
    pending: deque[Send] = field(default_factory=deque)
    rebind: bool = False  # a conversation: unbound, not aborted, when its worker is lost


@dataclass(eq=False, slots=True)
class _Worker:
    prefix: str
    interval: float
    last_seen: float
    connections: set[str] = field(default_factory=set)
    releases: list[str] = field(default_factory=list)  # releases its inbox refused


class ServerTable:
    """One interface server's connections and the workers they are bound to."""

    def __init__(
        self,
        prefix: str,
        settings: AffinitySettings,
        counters: Counter[str],
        sooner: Callable[[float], None] | None = None,
    ) -> None:
        self.prefix = prefix
        self._sooner = sooner
        self._settings = settings
        self._counters = counters
        self._conns: dict[str, _Conn] = {}
        self._workers: dict[str, _Worker] = {}
        self._bind_heap: list[tuple[float, str]] = []
        self._down_at: float | None = None  # since when the layer is down, if it is
        #: The earliest time :meth:`expire` has work to do (``INF``: none).
        self.deadline = INF

    def state(self, connection: str) -> ServerState | None:
        conn = self._conns.get(connection)
        return None if conn is None else conn.state

    # -- the interface's events ------------------------------------------------------

    def open(self, connection: str, rebind: bool = False) -> None:
        self._conns[connection] = _Conn(connection, rebind=rebind)

    def event(
        self, connection: str, channel: str, message: Content, last: bool, clock: Clock
    ) -> Send | None:
        """The interface sends ``message`` for ``connection``: what to send, if anything.
        Raises ``ChannelFull`` when the buffer before the bind is full. If the send then
        fails, call :meth:`event_failed`. ``clock()`` is ``now``, read only for a first
        event (its bind deadline starts)."""
        conn = self._conns.get(connection)
        if conn is not None and conn.state is BOUND:  # the fast path
            stamped = {**message, "reply_channel": connection, "order": conn.order}
            conn.order += 1
            return conn.inbox, {"type": _EVENT, "channel": channel, "message": stamped}
        if conn is None or conn.state in _CLOSED:
            # Not a connection this server has open: no affinity to keep, so the event
            # goes where any worker can take it.
            self._counters["unaffiliated"] += 1
            return channel, {**message, "reply_channel": connection}
        state = conn.state
        if state is ABORTED:
            self._counters["aborted"] += 1
            return None
        stamped = {**message, "reply_channel": connection, "order": conn.order}
        if state is DETACHED or (last and state is NEW):
            stamped[control.DETACHED] = True
            if state is NEW:
                conn.state = DETACHED
                self._counters["detached"] += 1
            conn.order += 1
            return channel, stamped
        if state is NEW:
            conn.state, conn.order = BINDING, 1
            conn.deadline = clock() + self._settings.bind_timeout
            heapq.heappush(self._bind_heap, (conn.deadline, connection))
            self._lower(conn.deadline)
            return channel, stamped
        # BINDING or FLUSHING: wait behind the first event.
        if len(conn.pending) >= self._settings.pending_limit:
            self._counters["pending_full"] += 1
            raise ChannelFull(f"{connection} is waiting for its worker; buffer is full")
        conn.pending.append((channel, stamped))
        conn.order += 1
        return None

    def event_failed(self, connection: str) -> None:
        """The send :meth:`event` asked for failed: as if the event had not been sent
        (its ``order`` is the next event's; a first event leaves the connection NEW)."""
        conn = self._conns.get(connection)
        if conn is None:
            return
        if conn.state is BINDING and conn.order == 1 and not conn.pending:
            conn.state, conn.order, conn.deadline = NEW, 0, INF
        elif conn.state is BOUND:
            conn.order -= 1
        elif conn.state is DETACHED:
            conn.order -= 1
            if conn.order == 0:
                conn.state = NEW
                self._counters["detached"] -= 1

    def close(self, connection: str) -> Release | None:
        conn = self._conns.get(connection)
        if conn is None:
            return None
        if conn.state is BINDING:
            conn.state = BINDING_CLOSED
            return None
        if conn.state is FLUSHING:
            conn.state = FLUSHING_CLOSED
            return None
        if conn.state in _CLOSED:
            return None
        del self._conns[connection]
        if conn.worker is None:
            return None  # NEW, DETACHED, or aborted before any bind: no worker to tell
        worker = self._workers.get(conn.worker)
        if worker is not None:
            worker.connections.discard(connection)
        return Release(conn.worker, connection)

    # -- the workers' control messages -----------------------------------------------

    def bind(self, connection: str, worker: str, interval: float, now: float) -> Flush | Release:
        conn = self._conns.get(connection)
        if conn is None or conn.state not in _WAITING:
            # Too late (aborted or closed) or a second taker: that worker must not keep
            # state for a connection nobody will send to.
            self._counters["late_binds"] += 1
            return Release(worker, connection)
        record = self._workers.get(worker)
        if record is None:
            record = self._workers[worker] = _Worker(worker, interval, now)
        record.last_seen = now
        if not record.connections:
            # From now on its silence aborts this connection: watch it.
            self._lower(now + record.interval * self._settings.heartbeat_misses)
        record.connections.add(connection)
        conn.worker, conn.inbox, conn.deadline = worker, control.inbox_of(worker), INF
        conn.state = FLUSHING if conn.state is BINDING else FLUSHING_CLOSED
        return Flush(connection)

    def next_pending(self, connection: str) -> Send | None:
        """The next buffered event of a FLUSHING connection, for its worker's inbox."""
        conn = self._conns.get(connection)
        if conn is None or conn.state not in _FLUSHING or not conn.pending:
            return None
        channel, stamped = conn.pending.popleft()
        return conn.inbox, {"type": control.EVENT, "channel": channel, "message": stamped}

    def flushed(self, connection: str) -> Release | None:
        """:meth:`next_pending` returned ``None``: the flush is over."""
        conn = self._conns.get(connection)
        if conn is None or conn.state not in _FLUSHING:
            return None  # aborted meanwhile
        if conn.state is FLUSHING:
            conn.state = BOUND
            return None
        assert conn.worker is not None
        del self._conns[connection]  # closed while binding: its events are out
        worker = self._workers.get(conn.worker)
        if worker is not None:
            worker.connections.discard(connection)
        return Release(conn.worker, connection)

    def heartbeat(self, worker: str, interval: float | None, now: float) -> Ack:
        record = self._workers.get(worker)
        bound, released = 0, []
        if record is not None:
            record.last_seen = now
            if interval:
                if interval < record.interval and record.connections:
                    self._lower(now + interval * self._settings.heartbeat_misses)
                record.interval = float(interval)
            bound, released, record.releases = len(record.connections), record.releases, []
            self._forget_if_idle(record)
        message = control.ack(self.prefix, released)
        message["bound"] = bound
        return Ack(worker, message, released)

    def gone(self, worker: str) -> list[Action]:
        actions: list[Action] = []
        self._lose(worker, WORKER_GONE, actions)
        return actions

    def release_sent(self, worker: str) -> None:
        record = self._workers.get(worker)
        if record is not None:
            self._forget_if_idle(record)

    def release_refused(self, worker: str, connection: str) -> None:
        record = self._workers.get(worker)
        if record is not None and len(record.releases) < _RELEASES_KEPT:
            record.releases.append(connection)  # retried with the next ack

    def ack_refused(self, ack: Ack, now: float) -> None:
        """The inbox refused the ack: its releases go out with the next one."""
        if not ack.released:
            return
        record = self._workers.get(ack.worker)
        if record is None:
            interval = self._settings.heartbeat_interval
            record = self._workers[ack.worker] = _Worker(ack.worker, interval, now)
        record.releases[:0] = ack.released[: _RELEASES_KEPT - len(record.releases)]

    # -- the layer's health ----------------------------------------------------------

    def layer_down(self, now: float) -> None:
        """This server's layer is unreachable: no worker's silence counts until it is back."""
        if self._down_at is None:
            self._down_at = now
            self._counters["layer_down"] += 1

    def layer_back(self, now: float) -> None:
        """The layer is reachable again: every worker's allowance starts afresh at ``now``."""
        if self._down_at is None:
            return
        self._down_at = None
        for record in self._workers.values():
            record.last_seen = max(record.last_seen, now)

    # -- time ------------------------------------------------------------------------

    def expire(self, now: float) -> tuple[list[Action], float]:
        """Abort what is overdue at ``now``; return the actions and the next deadline."""
        actions: list[Action] = []
        heap = self._bind_heap
        while heap and heap[0][0] <= now:
            deadline, name = heapq.heappop(heap)
            conn = self._conns.get(name)
            if conn is not None and conn.state in _WAITING and conn.deadline == deadline:
                self._abort(conn, BIND_TIMEOUT, "bind_timeout", actions)
        nearest = heap[0][0] if heap else INF
        misses = self._settings.heartbeat_misses
        down = self._down_at is not None
        for record in list(self._workers.values()):
            if not record.connections:
                continue
            if down:
                nearest = min(nearest, now + record.interval)  # then look at the layer again
                continue
            limit = record.last_seen + record.interval * misses
            if limit <= now:
                self._lose(record.prefix, WORKER_SILENT, actions)
            else:
                nearest = min(nearest, limit)
        self.deadline = nearest
        return actions, nearest

    # -- internals -------------------------------------------------------------------

    def _lower(self, deadline: float) -> None:
        if deadline < self.deadline:
            self.deadline = deadline
            if self._sooner is not None:
                self._sooner(deadline)

    def _abort(self, conn: _Conn, reason: str, counter: str, actions: list[Action]) -> None:
        closed = conn.state in _CLOSED
        conn.state, conn.deadline = ABORTED, INF
        self._counters[counter] += 1
        if conn.pending:
            self._counters["pending_dropped"] += len(conn.pending)
            conn.pending.clear()
        if closed:
            # The interface is done with it: nobody to tell, nothing left to keep.
            if self._conns.get(conn.name) is conn:
                del self._conns[conn.name]
            actions.append(Forget(conn.name, reason))
        elif conn.rebind:
            # A conversation: its next event binds a worker again, from order 0.
            conn.state, conn.order, conn.worker, conn.inbox = NEW, 0, None, ""
            self._counters["unbound"] += 1
            actions.append(Unbind(conn.name, reason))
        else:
            actions.append(Abort(conn.name, reason))

    def _lose(self, worker: str, reason: str, actions: list[Action]) -> None:
        record = self._workers.pop(worker, None)
        if record is None:
            return
        for name in record.connections:
            conn = self._conns.get(name)
            if conn is not None and conn.state is not ABORTED:
                self._abort(conn, reason, "worker_lost", actions)

    def _forget_if_idle(self, record: _Worker) -> None:
        if not record.connections and not record.releases:
            self._workers.pop(record.prefix, None)

    def snapshot(self) -> dict[str, Any]:
        return {
            "connections": dict(Counter(_LABELS[c.state] for c in self._conns.values())),
            "workers": {w.prefix: len(w.connections) for w in self._workers.values()},
        }

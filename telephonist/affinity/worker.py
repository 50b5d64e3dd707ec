"""Connection affinity, worker side: one serial queue per connection, bindings, liveness.

Theory of operation
-------------------
Everything that decides what the worker does with a connection lives in this file: no
I/O, no asyncio, no clock (methods take ``now``). The driver
(:mod:`telephonist.worker.connections`) feeds it events, runs one runner per connection
when told to (:class:`Run`, or ``True`` from the per-event methods), performs the other
actions and calls :meth:`WorkerTable.expire` at ``deadline``.

A message with ``order == 0`` taken from a shared channel is a connection's first event:
the worker *takes* the connection (:class:`Bind`: ``telephonist.bind`` to the owning
server's control channel) and from then on that server sends the connection's events to
this worker's inbox, in order. Each connection has a FIFO queue and at most one runner
consuming it, so its events run strictly one after another while different connections
run concurrently. An event marked ``telephonist.detached`` (a single-event connection)
or one for a connection not taken here is queued and run the same way, but nothing is
bound: the connection is CLOSING from the start and forgotten once its queue is done.

While it holds connections of a server, the worker sends that server a heartbeat every
``heartbeat_interval`` (one message per server, not per connection; nothing when it
holds none). Each is answered with ``telephonist.ack``; a server silent for
``heartbeat_misses`` intervals (plus one) is presumed dead and its connections are
dropped, so a vanished server cannot leak worker state. ``telephonist.release`` (the
connection ended) drops a connection's state once its queued events are done;
:class:`Released` tells the driver, which tells the consumers' signal receivers.

While the worker's own layer is down (:meth:`WorkerTable.layer_down` until
:meth:`WorkerTable.layer_back`) no heartbeat is due (none could be sent) and no
server's silence counts; on the way back every server's allowance starts afresh.

Transitions (``-`` leaves the table)::

    state     event                          next      actions
    (none)    first event (take)             RUNNING   Bind, queue it, Run
    (none)    event, detached event          CLOSING   queue it, Run
    IDLE      event                          RUNNING   queue it, Run
    RUNNING   event                          RUNNING   queue it
    CLOSING   event                          CLOSING   queue it
    RUNNING   overtaking event               RUNNING   queue it, Interrupt
    CLOSING   overtaking event               CLOSING   queue it, Interrupt
    RUNNING   runner done                    IDLE
    CLOSING   runner done                    -         Released (its reason)
    IDLE      release                        -         Released ("closed")
    RUNNING   release                        CLOSING
    IDLE      server lost / worker stopping  -         Released (that reason)
    RUNNING   server lost / worker stopping  CLOSING   Discarded (its queue)
    (time)    heartbeat due                  same      Heartbeat per live server,
                                                       ServerLost per silent one
    (stop)    worker stops                   same      Gone per server, then as
                                                       "worker stopping" above

The fast path: an event for a connection held here appends to its queue and returns
``None`` when its runner is already at work, else that queue for a new runner (no action
list, no deadline); the runner pops events from that queue without asking the table,
and calls :meth:`WorkerTable.done` once it is empty.

An *overtaking* event (:data:`OVERTAKING`: ``http.disconnect``, the client has gone)
says the event being run is moot. It is queued like any other, so the consumer still
gets it in order and once, but when a runner is at work on an earlier event the table
also returns :class:`Interrupt`: the driver interrupts the running consumer if that
consumer opted in (:mod:`telephonist.consumers.interrupt`), so a view waiting on
something stops instead of running to its end for nobody. Whether a consumer may be
cut short is the consumer's call, not the table's: the table only says when.
"""

from __future__ import annotations

import enum
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..config.model import AffinitySettings
from ..core.codec import Content
from ..core.names import non_local_name
from ..spec.http import DISCONNECT as HTTP_DISCONNECT
from .actions import Bind, Discarded, Gone, Heartbeat, Interrupt, Released, Run, ServerLost
from .actions import WorkerAction as Action

__all__ = ["INF", "OVERTAKING", "Event", "Queue", "WorkerState", "WorkerTable"]

INF = float("inf")
CLOSED = "closed"
SERVER_LOST = "host lost"  # the signal's reason and counter name: kept as they were
STOPPING = "worker stopping"

Event = tuple[str, Content]  # (channel, message)
Queue = deque[Event]  # one connection's: the table appends, its runner pops from the left

#: Event types that interrupt the event a connection's runner is at work on (see above).
OVERTAKING = frozenset({HTTP_DISCONNECT})


class WorkerState(enum.Enum):
    IDLE = "idle"  # held here, nothing queued
    RUNNING = "running"  # held here, its runner consumes the queue
    CLOSING = "closing"  # released or never bound here: forgotten once its queue is done


IDLE = WorkerState.IDLE
RUNNING = WorkerState.RUNNING
CLOSING = WorkerState.CLOSING


@dataclass(eq=False, slots=True)
class _Conn:
    name: str
    server: str | None  # None: not bound here
    state: WorkerState
    queue: Queue = field(default_factory=deque)
    reason: str = CLOSED  # why it is CLOSING
    heard: bool = False  # an event came for it since its server's silence was last checked


@dataclass(eq=False, slots=True)
class _Server:
    prefix: str
    last_ack: float
    connections: set[str] = field(default_factory=set)


class WorkerTable:
    """One worker's connections and the interface servers they belong to."""

    def __init__(self, settings: AffinitySettings, counters: Counter[str]) -> None:
        self._settings = settings
        self._counters = counters
        self._conns: dict[str, _Conn] = {}
        self._servers: dict[str, _Server] = {}
        self._next_beat = INF
        self._down_at: float | None = None  # since when the layer is down, if it is
        #: The earliest time :meth:`expire` has work to do (``INF``: none).
        self.deadline = INF

    def __len__(self) -> int:
        return len(self._conns)

    def state(self, connection: str) -> WorkerState | None:
        conn = self._conns.get(connection)
        return None if conn is None else conn.state

    # -- events ----------------------------------------------------------------------

    def take(self, connection: str, channel: str, message: Content, now: float) -> list[Action]:
        """``message`` is the first event of ``connection``: take the connection."""
        prefix = non_local_name(connection)
        server = self._servers.get(prefix)
        if server is None:
            server = self._servers[prefix] = _Server(prefix, now)
            if self._next_beat == INF:
                self._next_beat = now + self._settings.heartbeat_interval
                self.deadline = min(self.deadline, self._next_beat)
        server.connections.add(connection)
        conn = self._conns[connection] = _Conn(connection, prefix, RUNNING)
        conn.queue.append((channel, message))
        return [Bind(connection), Run(connection, conn.queue)]

    def event(self, connection: str, channel: str, message: Content) -> Queue | Interrupt | None:
        """Queue an event behind the connection's earlier ones; returns the queue when
        a runner must start for it (the runner pops from its left), :class:`Interrupt`
        when it overtakes the event a runner is at work on."""
        conn = self._conns.get(connection)
        if conn is not None:
            conn.queue.append((channel, message))
            conn.heard = True
            if conn.state is not IDLE:  # the fast path: its runner will get to it
                if message.get("type") in OVERTAKING:
                    self._counters["overtaking"] += 1
                    return Interrupt(connection)
                return None
            conn.state = RUNNING
            return conn.queue
        # Events without a bind here (the server kept sending after we dropped the
        # connection): still serialised, forgotten once done.
        self._counters["unbound_events"] += 1
        return self._unbound(connection, channel, message)

    def detached(self, connection: str, channel: str, message: Content) -> Queue | Interrupt | None:
        """An event of a single-event connection: run like a bound one (after any
        earlier event of that connection here), but nothing is bound and no release
        will come."""
        if connection not in self._conns:
            return self._unbound(connection, channel, message)
        return self.event(connection, channel, message)

    def done(self, connection: str) -> Released | None:
        """The connection's runner ended."""
        conn = self._conns.get(connection)
        if conn is None:
            return None
        if conn.state is CLOSING:
            return self._forget(conn)
        conn.state = IDLE
        return None

    def release(self, connection: str) -> Released | None:
        conn = self._conns.get(connection)
        if conn is None:
            return None
        if conn.state is IDLE:
            return self._forget(conn)
        conn.state = CLOSING
        return None

    def ack(self, server: str, releases: Iterable[str], now: float) -> list[Released]:
        record = self._servers.get(server)
        if record is not None:
            record.last_ack = now
        out = []
        for name in releases:
            released = self.release(name)
            if released is not None:
                out.append(released)
        return out

    def layer_down(self, now: float) -> None:
        """This worker's layer is unreachable: no heartbeat, no server's silence counts."""
        if self._down_at is None:
            self._down_at = now
            self._counters["layer_down"] += 1

    def layer_back(self, now: float) -> None:
        """The layer is reachable again: every server's allowance starts afresh at ``now``."""
        if self._down_at is None:
            return
        self._down_at = None
        for server in self._servers.values():
            server.last_ack = max(server.last_ack, now)

    def expire(self, now: float) -> tuple[list[Action], float]:
        """Heartbeats due at ``now``, and servers silent for too long."""
        if now < self._next_beat:
            self.deadline = self._next_beat
            return [], self.deadline
        interval = self._settings.heartbeat_interval
        if self._down_at is not None:
            self._next_beat = now + interval if self._servers else INF  # look again then
            self.deadline = self._next_beat
            return [], self.deadline
        silent_after = interval * self._settings.heartbeat_misses + interval
        actions: list[Action] = []
        for server in list(self._servers.values()):
            if now - server.last_ack > silent_after and self._heard(server):
                server.last_ack = now  # its acks are stuck behind its events, see _heard
            if now - server.last_ack > silent_after:
                actions.append(ServerLost(server.prefix))
                self._drop_server(server, SERVER_LOST, actions)
            else:
                actions.append(Heartbeat(server.prefix))
        self._next_beat = now + interval if self._servers else INF
        self.deadline = self._next_beat
        return actions, self.deadline

    def stop(self) -> list[Action]:
        """The worker stops (after its drain): say goodbye to every server."""
        actions: list[Action] = []
        for server in list(self._servers.values()):
            actions.append(Gone(server.prefix))
            self._drop_server(server, STOPPING, actions)
        self._next_beat = self.deadline = INF
        return actions

    # -- internals -------------------------------------------------------------------

    def _heard(self, server: _Server) -> bool:
        """Whether an event of ``server``'s connections came since this was last asked
        (and forget that it did). A server that keeps sending events is alive even when
        its acks do not arrive: under a burst the events fill this worker's inbox, and
        the server's acks, sent to the same inbox, are refused as long as it stays full.
        Without this, a worker slower than the burst for longer than the silence limit
        would drop the server and the events queued for it. Asked only of a silent
        server, so an event seen long before can defer the verdict by one period."""
        heard = False
        for name in server.connections:
            conn = self._conns.get(name)
            if conn is not None and conn.heard:
                heard, conn.heard = True, False
        return heard

    def _unbound(self, connection: str, channel: str, message: Content) -> Queue:
        conn = self._conns[connection] = _Conn(connection, None, CLOSING)
        conn.queue.append((channel, message))
        return conn.queue

    def _forget(self, conn: _Conn) -> Released:
        if self._conns.get(conn.name) is conn:
            del self._conns[conn.name]
        server = self._servers.get(conn.server) if conn.server else None
        if server is not None:
            server.connections.discard(conn.name)
            if not server.connections:
                del self._servers[server.prefix]
        return Released(conn.name, conn.reason)

    def _drop_server(self, server: _Server, reason: str, actions: list[Action]) -> None:
        self._servers.pop(server.prefix, None)
        counter = f"dropped_{reason.replace(' ', '_')}"
        for name in list(server.connections):
            conn = self._conns.get(name)
            if conn is None:
                continue
            self._counters[counter] += len(conn.queue)
            if conn.queue:
                actions.append(Discarded(name, len(conn.queue)))
                conn.queue.clear()
            conn.reason = reason
            if conn.state is IDLE:
                actions.append(self._forget(conn))
            else:
                conn.state = CLOSING

    def snapshot(self) -> dict[str, Any]:
        return {
            "connections": len(self._conns),
            "hosts": {s.prefix: len(s.connections) for s in self._servers.values()},
        }

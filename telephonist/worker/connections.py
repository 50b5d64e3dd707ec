"""Connection affinity, worker side: one serial queue per connection, bindings, liveness.

Theory of operation
-------------------
A message with ``order == 0`` taken from a shared channel is a connection's first
event. The worker binds the connection (``telephonist.bind`` to the owning host's
control channel) and from then on the host sends that connection's events to this
worker's inbox, in order. Each connection has a FIFO queue and at most one task running
it, so its events are consumed strictly one after another while different connections
run concurrently (up to the worker's concurrency limit, enforced by the caller's slots).
An event marked ``telephonist.detached`` belongs to a single-event connection (an HTTP
request in one message): it is queued and run the same way, but nothing is bound, so no
bind, no heartbeat and no release; its host does not watch this worker for it.

While it holds connections of a host, the worker sends that host a heartbeat every
``heartbeat_interval`` (one message per host, not per connection; nothing when it holds
none). Each heartbeat is answered with ``telephonist.ack``; a host that stops answering
for ``heartbeat_misses`` intervals is presumed dead and its connections are dropped, so
a vanished host cannot leak worker state. ``telephonist.release`` (the connection
ended) drops a connection's state once its queued events are done; receivers of
:data:`connection_released` drop whatever per-connection state they keep.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ..affinity import control
from ..config.model import AffinitySettings
from ..consumers.signals import Signal
from ..core.base import BaseChannelLayer
from ..core.codec import Content
from ..core.exceptions import ChannelFull
from ..core.names import non_local_name

__all__ = ["Connections", "connection_released"]

log = logging.getLogger("telephonist.worker")

#: Sent (on the worker's loop) when the worker drops a connection's state; keyword
#: arguments ``connection`` (its reply channel) and ``reason``.
connection_released = Signal("connection_released")

Dispatch = Callable[[str, Content], Awaitable[None]]


@dataclass(eq=False, slots=True)
class _Conn:
    name: str
    host: str | None  # None: not bound here (events arrived without a bind)
    queue: deque[tuple[str, Content]] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None
    released: bool = False


@dataclass(eq=False, slots=True)
class _Host:
    prefix: str
    last_ack: float
    connections: set[str] = field(default_factory=set)


class Connections:
    def __init__(
        self,
        layer: BaseChannelLayer,
        worker_prefix: str,
        settings: AffinitySettings,
        dispatch: Dispatch,
        free_slot: Callable[[], None],
        counters: Counter[str],
    ) -> None:
        self._layer = layer
        self._prefix = worker_prefix
        self._settings = settings
        self._dispatch = dispatch
        self._free_slot = free_slot
        self._counters = counters
        self._conns: dict[str, _Conn] = {}
        self._hosts: dict[str, _Host] = {}
        self._loop = asyncio.get_running_loop()
        self._busy: set[asyncio.Task[None]] = set()
        self._background: set[asyncio.Task[Any]] = set()
        self._heartbeats: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._conns)

    # -- events -----------------------------------------------------------------------

    def bind(self, connection: str, channel: str, message: Content) -> None:
        """``message`` is the first event of ``connection``: take the connection."""
        host_prefix = non_local_name(connection)
        host = self._hosts.get(host_prefix)
        if host is None:
            host = self._hosts[host_prefix] = _Host(host_prefix, self._loop.time())
        host.connections.add(connection)
        self._conns[connection] = _Conn(connection, host_prefix)
        self._spawn(self._send_bind(connection))
        if self._heartbeats is None or self._heartbeats.done():
            self._heartbeats = self._loop.create_task(self._heartbeat_loop(), name="heartbeats")
        self.enqueue(connection, channel, message)

    def detached(self, connection: str, channel: str, message: Content) -> None:
        """An event of a single-event connection: run it like a bound one (after any
        earlier event of that connection here), but bind nothing and heartbeat nothing;
        its host keeps no affinity, so it expects no release either."""
        conn = self._conns.get(connection)
        if conn is None:
            conn = self._conns[connection] = _Conn(connection, None, released=True)
        self._queue(conn, channel, message)

    def enqueue(self, connection: str, channel: str, message: Content) -> None:
        """Queue an event behind the connection's earlier ones (holds one slot)."""
        conn = self._conns.get(connection)
        if conn is None:
            # Events without a bind here (the host kept sending after we dropped the
            # connection): still serialised, forgotten once done.
            conn = self._conns[connection] = _Conn(connection, None, released=True)
            self._counters["unbound_events"] += 1
        self._queue(conn, channel, message)

    def _queue(self, conn: _Conn, channel: str, message: Content) -> None:
        conn.queue.append((channel, message))
        if conn.task is None:
            conn.task = self._loop.create_task(self._run(conn))
            self._busy.add(conn.task)
            conn.task.add_done_callback(self._busy.discard)

    async def _run(self, conn: _Conn) -> None:
        try:
            while conn.queue:
                channel, message = conn.queue.popleft()
                try:
                    await self._dispatch(channel, message)
                finally:
                    self._free_slot()
        finally:
            conn.task = None
            if conn.released:
                self._forget(conn, "closed")

    # -- control messages from hosts --------------------------------------------------

    def release(self, connection: str) -> None:
        conn = self._conns.get(connection)
        if conn is None:
            return
        conn.released = True
        if conn.task is None:
            self._forget(conn, "closed")

    def on_ack(self, message: Content) -> None:
        host = self._hosts.get(control.field(message, "host", str) or "")
        if host is not None:
            host.last_ack = self._loop.time()
        for name in control.field(message, "release", list) or ():
            if isinstance(name, str):
                self.release(name)

    def _forget(self, conn: _Conn, reason: str) -> None:
        if self._conns.get(conn.name) is not conn:
            return
        del self._conns[conn.name]
        host = self._hosts.get(conn.host) if conn.host else None
        if host is not None:
            host.connections.discard(conn.name)
            if not host.connections:
                del self._hosts[host.prefix]
        connection_released.send(self, connection=conn.name, reason=reason)

    def _drop_host(self, host: _Host, reason: str) -> None:
        self._hosts.pop(host.prefix, None)
        for name in list(host.connections):
            conn = self._conns.get(name)
            if conn is None:
                continue
            for _ in conn.queue:
                self._free_slot()
            self._counters[f"dropped_{reason.replace(' ', '_')}"] += len(conn.queue)
            conn.queue.clear()
            conn.released = True
            if conn.task is None:
                self._forget(conn, reason)

    # -- messages to hosts ------------------------------------------------------------

    async def _send_bind(self, connection: str) -> None:
        message = control.bind(connection, self._prefix, self._settings.heartbeat_interval)
        target = control.control_channel_of(connection)
        delay, deadline = 0.02, self._loop.time() + self._settings.bind_timeout / 2
        while True:
            try:
                await self._layer.send(target, message)
                return
            except ChannelFull:
                # The host's control channel is momentarily full: retrying briefly beats
                # leaving the connection to its bind timeout.
                if self._loop.time() + delay > deadline:
                    self._counters["bind_failed"] += 1
                    log.warning("could not bind %s: its host's control channel is full", connection)
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.5)

    async def _heartbeat_loop(self) -> None:
        interval = self._settings.heartbeat_interval
        limit = interval * self._settings.heartbeat_misses
        while self._hosts:
            await asyncio.sleep(interval)
            now = self._loop.time()
            for host in list(self._hosts.values()):
                if now - host.last_ack > limit + interval:
                    log.warning("host %s stopped answering: dropping its connections", host.prefix)
                    self._drop_host(host, "host lost")
                    continue
                try:
                    await self._layer.send(
                        host.prefix + "control", control.heartbeat(self._prefix, interval)
                    )
                except ChannelFull:
                    self._counters["heartbeat_full"] += 1
                except Exception:
                    log.exception("heartbeat to %s failed", host.prefix)

    # -- stopping ---------------------------------------------------------------------

    async def drain(self, within: float) -> None:
        """Let queued events finish (bounded), then tell every host we are gone."""
        if self._busy:
            _, late = await asyncio.wait(set(self._busy), timeout=within)
            for task in late:
                task.cancel()
            if late:
                log.warning("%d connections still busy after the drain: cancelled", len(late))
                await asyncio.wait(late)
        for host in list(self._hosts.values()):
            try:
                await self._layer.send(host.prefix + "control", control.gone(self._prefix))
            except Exception as exc:  # the host will notice the missing heartbeats
                log.warning("could not tell %s that this worker stops: %s", host.prefix, exc)
            self._drop_host(host, "worker stopping")
        if self._heartbeats is not None:
            self._heartbeats.cancel()
        for task in list(self._background):
            task.cancel()

    def _spawn(self, coro: Any) -> None:
        task = self._loop.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def snapshot(self) -> dict[str, Any]:
        return {
            "connections": len(self._conns),
            "hosts": {h.prefix: len(h.connections) for h in self._hosts.values()},
            "busy": len(self._busy),
        }

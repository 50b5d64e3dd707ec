"""Connection affinity, interface-server side: the driver of
:class:`telephonist.affinity.server.ServerTable`.

Theory of operation
-------------------
The table decides (see its transition table); this module does the I/O. It feeds the
table the interface's events (``send``, ``close``) and the workers' control messages,
sends what the table asks to be sent, hands ABORT to the reply side, and runs one
watchdog task that sleeps until the table's ``deadline`` and then calls ``expire``.
With no connection waiting for a bind and no worker bound, the watchdog waits on an
event and the server is idle. An event that brings the deadline closer wakes it (the
table's ``sooner``).

Two outcomes only the driver sees go back to the table: a send that failed
(``event_failed``: the event does not count as sent) and a release or ack the worker's
inbox refused (kept and re-sent with the next ack).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from ..affinity import control
from ..affinity.actions import Abort, Flush, Forget, Release, Unbind
from ..affinity.actions import ServerAction as Action
from ..affinity.server import INF, ServerState, ServerTable
from ..config.model import AffinitySettings
from ..core.base import BaseChannelLayer
from ..core.codec import Content
from ..core.exceptions import ChannelFull, LayerUnavailable, MessageTooLarge
from ..core.ratelog import RateLimitedLog
from ..redaction import loggable_channel

__all__ = ["Affinity"]

log = logging.getLogger("telephonist.affinity")
_trouble = RateLimitedLog(log)  # what repeats for every connection during an outage
_NEW = ServerState.NEW
_BOUND = ServerState.BOUND


class Affinity:
    """The server's connection table at work. ``abort(connection, reason)`` is how it
    tells the reply-channel side to hand the connection's handler ``ABORT``."""

    def __init__(
        self,
        layer: BaseChannelLayer,
        server_prefix: str,
        settings: AffinitySettings,
        counters: Counter[str],
        abort: Callable[[str, str], None],
    ) -> None:
        self._layer = layer
        self._counters = counters
        self._abort_cb = abort
        self._wake = asyncio.Event()
        self._sleeping_until = INF  # what the watchdog waits for
        self.table = ServerTable(server_prefix, settings, counters, self._sooner)
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop = asyncio.get_running_loop()
        self._clock = self._loop.time

    # -- the interface's events -------------------------------------------------------

    def open(self, connection: str, rebind: bool = False) -> None:
        self.table.open(connection, rebind)

    def close(self, connection: str) -> None:
        release = self.table.close(connection)
        if release is not None:
            self._spawn(self._release(release))

    async def send(
        self, channel: str, message: Content, connection: str, last: bool = False
    ) -> None:
        if self.table.state(connection) is _NEW and not self._layer.reachable():
            # A new connection while the layer is known to be down is refused at once
            # (503, 1013, 451...), not after a retry budget spent waiting: the client
            # retries later, and nothing piles up here meanwhile. Events of connections
            # already served still ride out the budget.
            self._counters["refused_unreachable"] += 1
            raise LayerUnavailable("the channel layer is unreachable")
        send = self.table.event(connection, channel, message, last, self._clock)
        if send is None:
            return
        target, out = send
        try:
            await self._send(target, out)
        except BaseException:
            self.table.event_failed(connection)
            raise

    async def send_bound(
        self, events: Sequence[tuple[str, Content, str]]
    ) -> list[Exception | None]:
        """Send the leading run of ``events`` (channel, message, connection) whose
        connections are bound, in one layer call (``send_many``: over Redis, one script
        call instead of a round trip per event); per event sent, ``None`` or the
        ``ChannelFull`` that refused it. Stops before the first event of a connection in
        any other state (its first event, a bind under way...): :meth:`send` handles
        those one at a time. Returns ``[]`` if the layer call failed as a whole (a
        message too large, the layer unreachable): none of them counts as sent, and the
        caller sends them one by one to learn which.

        Order: every event is stamped before any is sent, so a refused one hands its
        ``order`` back (``event_failed``) only if the later events of its connection
        were refused too. They are: a bound connection's events all go to its worker's
        inbox, and the layers refuse in order (the in-memory layer sends one after the
        other with nothing taken in between; the Redis layer checks a batch's capacity
        in one script call, atomically)."""
        table = self.table
        sends: list[tuple[str, Content]] = []
        connections: list[str] = []
        for channel, message, connection in events:
            if table.state(connection) is not _BOUND:
                break
            send = table.event(connection, channel, message, False, self._clock)
            assert send is not None  # a bound connection's event always goes out
            sends.append(send)
            connections.append(connection)
        if not sends:
            return []
        try:
            accepted = await self._layer.send_many(sends)
        except Exception:
            for connection in reversed(connections):
                table.event_failed(connection)
            return []
        outcomes: list[Exception | None] = []
        for (target, _), ok in zip(sends, accepted, strict=True):
            if ok:
                self._counters["events"] += 1
                outcomes.append(None)
            else:
                self._counters["full"] += 1
                outcomes.append(ChannelFull(f"channel {target!r} is at capacity"))
        for connection, outcome in zip(reversed(connections), reversed(outcomes), strict=True):
            if outcome is not None:
                table.event_failed(connection)
        return outcomes

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
        now = self._loop.time()
        if kind == control.BIND:
            connection = control.field(message, "connection", str)
            interval = control.field(message, "interval", (int, float)) or 1.0
            if connection is not None:
                step = self.table.bind(connection, worker, float(interval), now)
                if isinstance(step, Flush):
                    await self._flush(connection)
                else:
                    await self._release(step)
        elif kind == control.HEARTBEAT:
            interval = control.field(message, "interval", (int, float))
            ack = self.table.heartbeat(worker, interval, now)
            try:
                await self._layer.send(control.inbox_of(worker), ack.message)
            except (ChannelFull, LayerUnavailable):
                self._counters["full"] += 1  # the next heartbeat gets the next ack
                self.table.ack_refused(ack, self._loop.time())
        elif kind == control.GONE:
            self._perform(self.table.gone(worker))
        else:
            log.warning("ignored unknown control message %r", kind)

    async def _flush(self, connection: str) -> None:
        # Events the interface sends meanwhile join the buffer (the table keeps the
        # connection FLUSHING until it is empty), so the order holds without a lock.
        while (send := self.table.next_pending(connection)) is not None:
            try:
                await self._send(*send)
            except (ChannelFull, MessageTooLarge, LayerUnavailable):
                order = send[1]["message"].get("order")
                self._counters["flush_dropped"] += 1
                _trouble.warning(
                    "flush", "event %s of %s dropped on flush", order, loggable_channel(connection)
                )
        release = self.table.flushed(connection)
        if release is not None:
            await self._release(release)

    async def _release(self, release: Release) -> None:
        worker, connection = release
        try:
            await self._layer.send(control.inbox_of(worker), control.release(connection))
        except (ChannelFull, LayerUnavailable) as exc:
            # Kept, and sent with the worker's next ack: the worker's state for the
            # connection must not outlive it because the layer was down at its end.
            self._counters["release_deferred"] += 1
            if isinstance(exc, LayerUnavailable):
                _trouble.warning("release", "could not release connections on workers: %s", exc)
            self.table.release_refused(worker, connection)
        except Exception:
            log.exception("could not release %s on %s", loggable_channel(connection), worker)
        else:
            self.table.release_sent(worker)

    # -- actions and time -------------------------------------------------------------

    def _perform(self, actions: list[Action]) -> None:
        for action in actions:
            # One worker's death aborts all its connections at once: a line per reason
            # and minute, the rest counted (worker_lost, bind_timeout in status).
            if isinstance(action, Abort):
                _trouble.warning(
                    f"abort: {action.reason}",
                    "aborting %s: %s",
                    loggable_channel(action.connection),
                    action.reason,
                )
                self._abort_cb(action.connection, action.reason)
            elif isinstance(action, Forget):
                _trouble.warning(
                    f"forget: {action.reason}",
                    "dropped the events of closed %s: %s",
                    loggable_channel(action.connection),
                    action.reason,
                )
            elif isinstance(action, Unbind):
                _trouble.warning(
                    f"unbind: {action.reason}",
                    "%s: %s; its next event binds another worker",
                    loggable_channel(action.connection),
                    action.reason,
                )
            elif isinstance(action, Release):
                self._spawn(self._release(action))

    def _sooner(self, deadline: float) -> None:
        if deadline < self._sleeping_until:
            self._wake.set()

    def _check(self, now: float) -> float:
        """Abort what is overdue; return the next deadline."""
        if self._layer.reachable():
            self.table.layer_back(now)
        else:
            self.table.layer_down(now)
        actions, nearest = self.table.expire(now)
        self._perform(actions)
        return nearest

    async def run_watchdog(self) -> None:
        while True:
            self._wake.clear()
            self._check(self._loop.time())
            nearest = self._sleeping_until = self.table.deadline
            timeout = None if nearest == INF else max(0.0, nearest - self._loop.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = self._loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait_background(self, within: float) -> None:
        """Let queued release messages go out before the server stops."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=within)

    def snapshot(self) -> dict[str, Any]:
        return self.table.snapshot()

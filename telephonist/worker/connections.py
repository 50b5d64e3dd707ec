"""Connection affinity, worker side: the driver of
:class:`telephonist.affinity.worker.WorkerTable`.

Theory of operation
-------------------
The table decides (see its transition table); this module does the I/O. It feeds the
table the connection events the worker takes and the servers' control messages, runs
one runner task per connection when the table says so (a runner consumes that
connection's queue one event at a time, through the worker's dispatch), sends binds,
heartbeats and goodbyes, and tells :data:`connection_released` receivers when a
connection's state is gone so they can drop whatever they keep for it. One timer task
sleeps until the table's ``deadline`` (the next heartbeat) and then calls ``expire``;
with no connection held it waits on an event, so an idle worker sends nothing.

:class:`Interrupt` (an ``http.disconnect`` overtaking the event a runner is at work on)
goes to :func:`telephonist.consumers.interrupt.interrupt`, which interrupts the running
consumer only if it opted in. When that cancelled the runner's own task, the runner
absorbs exactly that cancellation (``Task.uncancel``) and goes on to the next queued
event, the disconnect itself; any other cancellation (the worker stopping) still ends
the runner.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from ..affinity import control
from ..affinity.actions import (
    Bind,
    Discarded,
    Gone,
    Heartbeat,
    Interrupt,
    Released,
    Run,
    ServerLost,
)
from ..affinity.actions import WorkerAction as Action
from ..affinity.worker import INF, Queue, WorkerTable
from ..config.model import AffinitySettings
from ..consumers.interrupt import interrupt
from ..consumers.signals import Signal
from ..core.base import BaseChannelLayer
from ..core.codec import Content
from ..core.exceptions import ChannelFull, LayerUnavailable
from ..core.ratelog import RateLimitedLog
from ..redaction import loggable_channel

__all__ = ["Connections", "connection_released"]

log = logging.getLogger("telephonist.worker")
_trouble = RateLimitedLog(log)  # what repeats every interval during an outage

#: Sent (on the worker's loop) when the worker drops a connection's state; keyword
#: arguments ``connection`` (its reply channel) and ``reason``.
connection_released = Signal("connection_released")

Dispatch = Callable[[str, Content], Awaitable[None]]


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
        self.table = WorkerTable(settings, counters)
        self._loop = asyncio.get_running_loop()
        self._busy: set[asyncio.Task[None]] = set()
        self._background: set[asyncio.Task[Any]] = set()
        self._timer: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._sleeping_until = INF
        # Connections whose runner task an interruption cancelled: the runner absorbs it.
        self._cancelled: dict[str, asyncio.Task[Any]] = {}

    def __len__(self) -> int:
        return len(self.table)

    # -- events -----------------------------------------------------------------------

    def bind(self, connection: str, channel: str, message: Content) -> None:
        """``message`` is the first event of ``connection``: take the connection."""
        for action in self.table.take(connection, channel, message, self._loop.time()):
            if isinstance(action, Bind):
                self._spawn(self._send_bind(action.connection))
            elif isinstance(action, Run):
                self._start(action.connection, action.queue)
        if self._timer is None:
            self._timer = self._loop.create_task(self._run_timer(), name="heartbeats")
        elif self.table.deadline < self._sleeping_until:
            self._wake.set()

    def detached(self, connection: str, channel: str, message: Content) -> None:
        """An event of a single-event connection: run it like a bound one (after any
        earlier event of that connection here), but bind nothing and heartbeat nothing;
        its server keeps no affinity, so it expects no release either."""
        start = self.table.detached(connection, channel, message)
        if start is not None:
            self._start(connection, start)

    def enqueue(self, connection: str, channel: str, message: Content) -> None:
        """Queue an event behind the connection's earlier ones (holds one slot)."""
        start = self.table.event(connection, channel, message)
        if start is not None:
            self._start(connection, start)

    def _start(self, connection: str, start: Queue | Interrupt) -> None:
        if isinstance(start, Interrupt):
            self._interrupt(connection)
            return
        task = self._loop.create_task(self._run(connection, start))
        self._busy.add(task)
        task.add_done_callback(self._busy.discard)

    def _interrupt(self, connection: str) -> None:
        entry = interrupt(connection)
        if entry is None:
            return  # the running consumer did not opt in: the event waits its turn
        self._counters["interrupted"] += 1
        if entry.task is not None:
            self._cancelled[connection] = entry.task

    async def _run(self, connection: str, queue: Queue) -> None:
        try:
            while queue:
                channel, message = queue.popleft()
                try:
                    await self._dispatch(channel, message)
                except asyncio.CancelledError:
                    if self._absorb(connection) is not True:
                        raise
                else:
                    # The consumer swallowed its interruption; a stop requested meanwhile
                    # still stops the runner.
                    if self._cancelled and self._absorb(connection) is False:
                        raise asyncio.CancelledError
                finally:
                    self._free_slot()
        finally:
            if self._cancelled:
                self._cancelled.pop(connection, None)
            released = self.table.done(connection)
            if released is not None:
                self._released(released)

    def _absorb(self, connection: str) -> bool | None:
        """Undo the cancellation an interruption made of this runner's task: ``True``
        if that was all, ``False`` if another one (the worker stopping) is pending too,
        ``None`` if the interruption cancelled nothing of this runner."""
        task = asyncio.current_task()
        if task is None or self._cancelled.get(connection) is not task:
            return None
        del self._cancelled[connection]
        return task.uncancel() == 0

    # -- control messages from servers ------------------------------------------------

    def release(self, connection: str) -> None:
        released = self.table.release(connection)
        if released is not None:
            self._released(released)

    def on_ack(self, message: Content) -> None:
        server = control.field(message, "host", str) or ""
        names = [n for n in control.field(message, "release", list) or () if isinstance(n, str)]
        for released in self.table.ack(server, names, self._loop.time()):
            self._released(released)

    def _released(self, released: Released) -> None:
        connection_released.send(self, connection=released.connection, reason=released.reason)

    # -- actions ----------------------------------------------------------------------

    async def _perform(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Heartbeat):
                message = control.heartbeat(self._prefix, self._settings.heartbeat_interval)
                try:
                    await self._layer.send(control.control_channel_of(action.server), message)
                except ChannelFull:
                    self._counters["heartbeat_full"] += 1
                except LayerUnavailable as exc:
                    self._counters["heartbeat_failed"] += 1
                    _trouble.warning("heartbeat", "heartbeats to servers failed: %s", exc)
                except Exception:
                    log.exception("heartbeat to %s failed", action.server)
            elif isinstance(action, Gone):
                target = control.control_channel_of(action.server)
                try:
                    await self._layer.send(target, control.gone(self._prefix))
                except Exception as exc:  # the server will notice the missing heartbeats
                    log.warning("could not tell %s that this worker stops: %s", target, exc)
            elif isinstance(action, ServerLost):
                log.warning(
                    "interface server %s stopped answering: dropping its connections",
                    action.server,
                )
            elif isinstance(action, Discarded):
                for _ in range(action.events):
                    self._free_slot()
            elif isinstance(action, Released):
                self._released(action)

    async def _send_bind(self, connection: str) -> None:
        message = control.bind(connection, self._prefix, self._settings.heartbeat_interval)
        target = control.control_channel_of(connection)
        delay, deadline = 0.02, self._loop.time() + self._settings.bind_timeout / 2
        while True:
            try:
                await self._layer.send(target, message)
                return
            except ChannelFull:
                # The server's control channel is momentarily full: retrying briefly
                # beats leaving the connection to its bind timeout.
                if self._loop.time() + delay > deadline:
                    self._counters["bind_failed"] += 1
                    log.warning(
                        "could not bind %s: its server's control channel is full",
                        loggable_channel(connection),
                    )
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.5)

    async def _run_timer(self) -> None:
        while True:
            self._wake.clear()
            now = self._loop.time()
            if self._layer.reachable():
                self.table.layer_back(now)
            else:
                self.table.layer_down(now)
            actions, _ = self.table.expire(now)
            await self._perform(actions)
            nearest = self._sleeping_until = self.table.deadline
            timeout = None if nearest == INF else max(0.0, nearest - self._loop.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    # -- stopping ---------------------------------------------------------------------

    async def drain(self, within: float) -> None:
        """Let queued events finish (bounded), then tell every server we are gone."""
        if self._busy:
            _, late = await asyncio.wait(set(self._busy), timeout=within)
            for task in late:
                task.cancel()
            if late:
                log.warning("%d connections still busy after the drain: cancelled", len(late))
                await asyncio.wait(late)
        if self._timer is not None:
            self._timer.cancel()
        await self._perform(self.table.stop())
        for task in list(self._background):
            task.cancel()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = self._loop.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def snapshot(self) -> dict[str, Any]:
        return {**self.table.snapshot(), "busy": len(self._busy)}

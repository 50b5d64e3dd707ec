"""``Worker``: receives on the channels its routing needs and runs consumers.

Theory of operation
-------------------
One receive loop ("pump") per shared channel and one on the worker's inbox
(``worker.<id>!inbox``: bound connections' events and the interface servers' control
messages). Messages taken from the layer and not yet finished are counted against
``concurrency``; when that budget is spent the pumps stop receiving, messages wait on
the layer, and the layer's capacity pushes back on the interfaces. No queue in the
worker grows without bound. Separately, a semaphore caps consumers running at once at
``concurrency``.

Connection events are run one at a time per connection (:mod:`.connections`); other
messages run as soon as they have a slot. The Dispatcher runs async consumers on the
loop and sync ones in the worker's bounded thread pool, and turns every consumer error
into a logged outcome, so nothing a consumer does stops the worker.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import secrets
import socket
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

from ..affinity import control
from ..config.model import AffinitySettings, WorkerSettings
from ..core.base import BaseChannelLayer
from ..core.codec import Content
from ..core.exceptions import LayerUnavailable
from ..core.names import non_local_name
from ..core.ratelog import RateLimitedLog
from ..core.stats import layer_counters
from ..lifespan import Lifespan, keep_status_membership, load_hooks, run_hooks
from ..redaction import loggable_channel
from ..routing import Router
from ..routing.policies import policy_for
from . import completion
from .connections import Connections
from .dispatch import Dispatcher, Outcome
from .selection import select_channels

__all__ = ["Worker"]

log = logging.getLogger("telephonist.worker")
_trouble = RateLimitedLog(log)

_BATCH = 32  # messages per receive, at most: fewer layer round trips under load


class Worker:
    def __init__(
        self,
        layer: BaseChannelLayer,
        router: Router,
        settings: WorkerSettings | None = None,
        affinity: AffinitySettings | None = None,
        *,
        extra_channels: Iterable[str] = (),
    ) -> None:
        self.layer = layer
        self.router = router
        self.settings = settings or WorkerSettings()
        self._affinity = affinity or AffinitySettings()
        self.channels = select_channels(
            router.channels | set(extra_channels), self.settings.only, self.settings.exclude
        )
        self.executor = concurrent.futures.ThreadPoolExecutor(
            self.settings.threads, thread_name_prefix="telephonist-sync"
        )
        self.dispatcher = Dispatcher(router, layer, executor=self.executor, requeue=self._requeue)
        self.counters: Counter[str] = Counter()
        self.prefix = ""
        # Admission: messages taken from the layer and not yet finished (see _pump).
        self._free = self.settings.concurrency
        self._room = asyncio.Event()
        self._room.set()
        # The strict limit on consumers running at once.
        self._running = asyncio.Semaphore(self.settings.concurrency)
        self._pumps: list[asyncio.Task[None]] = []
        self._membership: asyncio.Task[None] | None = None
        self._loose: set[asyncio.Task[None]] = set()
        self._connections: Connections | None = None
        self._started_at = 0.0
        self._hooks = (
            load_hooks(self.settings.on_startup, "worker.on_startup"),
            load_hooks(self.settings.on_shutdown, "worker.on_shutdown"),
        )

    @property
    def inbox(self) -> str:
        return control.inbox_of(self.prefix)

    async def start(self) -> None:
        if not self.channels:
            raise ValueError(
                "this worker has no channel to listen on (check routing, --only, --exclude)"
            )
        self._started_at = time.time()
        # Unique per worker, not just per process: see InterfaceServer.start.
        label = secrets.token_hex(3)
        self.prefix = non_local_name(await self.layer.new_channel(f"worker.{label}."))
        self._connections = Connections(
            self.layer,
            self.prefix,
            self._affinity,
            self._dispatch,
            self._give,
            self.counters,
        )
        await run_hooks(self._hooks[0], Lifespan("startup", "worker", self.layer))
        loop = asyncio.get_running_loop()
        for channel in [*self.channels, self.inbox]:
            self._pumps.append(loop.create_task(self._pump(channel), name=f"pump:{channel}"))
        self._membership = loop.create_task(keep_status_membership(self.layer, self.inbox))
        log.debug("worker %s listening on %s", self.prefix, ", ".join(self.channels))

    async def stop(self, drain_timeout: float | None = None) -> None:
        """Stop taking messages, let in-flight ones finish (bounded), then hooks."""
        drain = self.settings.drain_timeout if drain_timeout is None else drain_timeout
        tasks = [*self._pumps, *([self._membership] if self._membership else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._pumps.clear()
        await asyncio.gather(self._drain_loose(drain), self._drain_connections(drain))
        with contextlib.suppress(NotImplementedError, TypeError):
            await self.layer.group_discard(control.STATUS_GROUP, self.inbox)
        await run_hooks(self._hooks[1], Lifespan("shutdown", "worker", self.layer))
        # Threads still running a sync consumer cannot be interrupted; do not wait on them.
        self.executor.shutdown(wait=False, cancel_futures=True)
        log.info("worker %s stopped", self.prefix)

    async def _drain_loose(self, within: float) -> None:
        if not self._loose:
            return
        _, late = await asyncio.wait(set(self._loose), timeout=within)
        for task in late:
            task.cancel()
        if late:
            log.warning("%d messages still running after the drain: cancelled", len(late))
            await asyncio.wait(late)

    async def _drain_connections(self, within: float) -> None:
        if self._connections is not None:
            await self._connections.drain(within)

    # -- receiving --------------------------------------------------------------------

    async def _pump(self, channel: str) -> None:
        is_inbox = channel == self.inbox
        while True:
            # Wait for room but hold nothing while idle: a pump parked on a quiet
            # channel must not starve the others (the inbox above all).
            await self._room.wait()
            want = max(1, min(_BATCH, self._free))
            try:
                batch = await self.layer.receive_many(channel, want)
            except asyncio.CancelledError:
                raise
            except LayerUnavailable as exc:  # the layer logs the outage itself
                self.counters["receive_errors"] += 1
                where = loggable_channel(channel)
                _trouble.warning("receive", "receive on %s failed: %s", where, exc)
                await asyncio.sleep(0.1)  # a persistent error must not spin the loop
                continue
            except Exception:
                self.counters["receive_errors"] += 1
                log.exception("receive on %s failed", loggable_channel(channel))
                await asyncio.sleep(0.1)  # a persistent error must not spin the loop
                continue
            self._take(len(batch))
            for message in batch:
                if is_inbox:
                    self._on_inbox(message)
                else:
                    self._accept(channel, message, shared=True)

    def _take(self, n: int) -> None:
        # Several pumps may wake on the same room: ``_free`` can dip below zero by at
        # most (pumps x batch), a bounded overshoot that buys never blocking a pump.
        self._free -= n
        if self._free <= 0:
            self._room.clear()

    def _give(self, n: int = 1) -> None:
        self._free += n
        if self._free > 0:
            self._room.set()

    def _accept(self, channel: str, message: Content, *, shared: bool) -> None:
        """Route one message (holding one slot) to its connection queue or a task."""
        assert self._connections is not None
        connection = message.get("reply_channel")
        if isinstance(connection, str) and "!" in connection:
            if message.pop(control.DETACHED, False):
                self._connections.detached(connection, channel, message)
            elif shared and message.get("order") == 0:
                self._connections.bind(connection, channel, message)
            else:
                self._connections.enqueue(connection, channel, message)
            return
        task = asyncio.get_running_loop().create_task(self._run_loose(channel, message))
        self._loose.add(task)
        task.add_done_callback(self._loose.discard)

    def _on_inbox(self, message: Content) -> None:
        assert self._connections is not None
        kind = message.get("type")
        if kind == control.EVENT:
            channel = control.field(message, "channel", str)
            event = control.field(message, "message", dict)
            if channel is not None and event is not None:
                self._accept(channel, event, shared=False)
                return
            log.warning("ignored a malformed event envelope")
        self._give()  # control messages are handled inline and hold no slot
        if kind == control.RELEASE:
            self._connections.release(control.field(message, "connection", str) or "")
        elif kind == control.ACK:
            self._connections.on_ack(message)
        elif kind == control.STATUS_REQUEST:
            reply_to = control.field(message, "reply_channel", str)
            if reply_to:
                self._spawn_status(reply_to)
        elif kind != control.EVENT:
            log.warning("ignored unknown inbox message %r", kind)

    # -- running ----------------------------------------------------------------------

    async def _run_loose(self, channel: str, message: Content) -> None:
        try:
            await self._dispatch(channel, message)
        finally:
            self._give()

    async def _dispatch(self, channel: str, message: Content) -> None:
        if channel not in self.router.channels and policy_for(channel) is None:
            # Taken only to bind its connection (see .selection); nothing to run.
            self.counters["unrouted"] += 1
            await completion.report(self.layer, message, Outcome.NO_ROUTE, self.counters)
            return
        async with self._running:
            outcome = await self.dispatcher.dispatch(channel, message)
        self.counters[outcome.value] += 1
        # Outside the consumer slot: a slow layer must not hold one.
        await completion.report(self.layer, message, outcome, self.counters)

    async def _requeue(self, channel: str, content: dict[str, Any]) -> None:
        """``ConsumeLater`` puts a connection's event at the back of that connection's
        queue here (it must stay with this worker); other messages go back on the layer."""
        connection = content.get("reply_channel")
        if self._connections is not None and isinstance(connection, str) and "!" in connection:
            self._take(1)
            self._connections.enqueue(connection, channel, content)
        else:
            await self.layer.send(channel, content)

    # -- status -----------------------------------------------------------------------

    def _spawn_status(self, reply_to: str) -> None:
        async def answer() -> None:
            try:
                await self.layer.send(reply_to, {"type": control.STATUS, **self.status()})
            except Exception as exc:
                log.debug("status answer to %s failed: %s", reply_to, exc)

        task = asyncio.get_running_loop().create_task(answer())
        self._loose.add(task)
        task.add_done_callback(self._loose.discard)

    def status(self) -> dict[str, Any]:
        return {
            "kind": "worker",
            "id": self.prefix,
            "pid": os.getpid(),
            "hostname": socket.gethostname(),
            "uptime": round(time.time() - self._started_at, 1),
            "channels": self.channels,
            "concurrency": self.settings.concurrency,
            "affinity": self._connections.snapshot() if self._connections is not None else {},
            "counters": dict(self.counters),
            "dispatch": self.dispatcher.describe(),
            # This process's layer object: its drops, traffic and send timings. Parts of
            # one process (all-in-one) share it; the reader counts it once per pid.
            "layer": layer_counters(self.layer),
        }

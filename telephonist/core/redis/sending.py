"""``SendBuffer``: sends issued concurrently become one capacity-checking script call.

Each ``send`` queues its envelope and awaits a future. The first queued send asks the
node to call back when it writes its next batch (``Node.defer``); the node's writer is a
task, and tasks start on the next loop iteration, so every send issued by the tasks that
ran in this iteration is already queued by then. The queue becomes one ``SEND`` script
call (chunked, so one call never holds the server for long) whose reply answers each
future with the script's per-message verdict: accepted, or full. Because the node has
one batch in flight at a time, sends issued while a batch is on the wire queue for the
next one: throughput grows with concurrency instead of with round trips.

On a cluster the calls are per slot and may go to several nodes: a flush task routes
them through ``ClusterShard.execute`` (which also follows ``MOVED``) instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from functools import partial
from typing import Any

from redis.exceptions import NoScriptError, OutOfMemoryError

from ..stats import LayerStats
from .keys import now_ms
from .node import Command, Request
from .scripts import SEND
from .shard import Routed, Shard

__all__ = ["Outgoing", "Route", "SendBuffer"]

_MAX_PER_CALL = 500  # messages per script call: bounds how long one call blocks Redis


@dataclass(frozen=True, slots=True)
class Route:
    """Where messages for one channel go, worked out once per channel name (the layer
    caches routes: a send then costs a dict lookup, not hashing and key formatting)."""

    shard: int  # index into the loop state's shards
    slot: int
    list_key: str
    counts_key: str | None  # process-specific channels: the counts hash of capacity
    channel: str
    capacity: int
    name: bytes  # the channel as an inbox envelope names it (b"" on a normal channel)


@dataclass(slots=True)
class Outgoing:
    """One message to send: its route and its envelope."""

    route: Route
    envelope: bytes


_Item = tuple[Outgoing, "asyncio.Future[bool]"]


class SendBuffer:
    """Coalesces the sends of one event loop to one shard."""

    def __init__(self, shard: Shard, stats: LayerStats, ttl_ms: int) -> None:
        self._shard = shard
        self._stats = stats
        self._ttl_ms = ttl_ms
        self._pending: list[_Item] = []
        self._scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, route: Route, envelope: bytes) -> asyncio.Future[bool]:
        """Queue a message; the future says whether it was accepted (``False``: full)."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((Outgoing(route, envelope), future))
        if not self._scheduled:
            self._scheduled = True
            if self._shard.cluster:
                self._spawn(self._flush_routed())
            else:
                # One server: the node builds the script call itself as it writes its
                # next batch, so nothing runs between the senders and the socket.
                self._shard.node.defer(self._build)
        return future

    def _take(self) -> list[list[_Item]]:
        """The queued sends as script calls: grouped per slot, chunked."""
        batch, self._pending, self._scheduled = self._pending, [], False
        # A sender cancelled before the write sends nothing.
        live = [item for item in batch if not item[1].done()]
        if self._shard.cluster:
            by_slot: dict[int, list[_Item]] = {}
            for item in live:
                by_slot.setdefault(item[0].route.slot, []).append(item)
            groups = list(by_slot.values())
        else:
            groups = [live] if live else []  # one server: any keys may share a call
        calls: list[list[_Item]] = []
        for items in groups:
            calls += [items[i : i + _MAX_PER_CALL] for i in range(0, len(items), _MAX_PER_CALL)]
        return calls

    def _build(self) -> list[Request]:
        now = now_ms()
        requests = []
        for call in self._take():
            _, command = self._command(call, now)
            requests.append(Request([command], partial(self._answer, call, command)))
        return requests

    async def _flush_routed(self) -> None:
        calls = self._take()
        if not calls:
            return
        now = now_ms()
        commands = [self._command(call, now) for call in calls]
        try:
            replies = await self._shard.execute(commands)
        except BaseException as exc:
            for call in calls:
                _fail(call, exc)
            if not isinstance(exc, Exception):
                raise
            return
        for call, (_, command), reply in zip(calls, commands, replies, strict=True):
            self._answer(call, command, [reply])

    def _answer(self, call: list[_Item], command: Command, outcome: Any) -> None:
        if isinstance(outcome, BaseException):
            _fail(call, outcome)
            return
        [reply] = outcome
        if isinstance(reply, NoScriptError):
            # The server lost its scripts (a restart): nothing ran; load and run again.
            self._spawn(self._retry(call, command))
        elif isinstance(reply, OutOfMemoryError):
            # At maxmemory with noeviction the server stored nothing: the layer is at
            # capacity, and each sender gets ChannelFull (its interface's overload
            # answer) rather than an error it does not expect.
            self._stats.incr("out_of_memory", len(call))
            for _, future in call:
                if not future.done():
                    future.set_result(False)
        elif isinstance(reply, Exception):
            _fail(call, reply)
        else:
            for (_, future), verdict in zip(call, reply, strict=False):
                if not future.done():
                    future.set_result(bool(verdict))
            if reply[-1]:
                self._stats.incr("expired", int(reply[-1]))

    async def _retry(self, call: list[_Item], command: Command) -> None:
        try:
            replies = await self._shard.execute([(call[0][0].route.list_key, command)])
        except Exception as exc:
            _fail(call, exc)
        else:
            self._answer(call, command, replies)

    def _command(self, call: list[_Item], now: int) -> Routed:
        keys: dict[str, int] = {}
        argv: list[Any] = [now, self._ttl_ms]
        for item, _ in call:
            route = item.route
            list_index = keys.get(route.list_key)
            if list_index is None:
                list_index = keys[route.list_key] = len(keys) + 1
            counts_index = 0
            if route.counts_key is not None:
                counts_index = keys.get(route.counts_key, 0)
                if not counts_index:
                    counts_index = keys[route.counts_key] = len(keys) + 1
            argv += (list_index, counts_index, route.channel, route.capacity, item.envelope)
        first = call[0][0].route.list_key
        return first, ("EVALSHA", SEND.sha, len(keys), *keys, *argv)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        _fail(self._pending, asyncio.CancelledError())
        self._pending = []
        self._scheduled = False


def _fail(call: list[_Item], exc: BaseException) -> None:
    for _, future in call:
        if not future.done():
            if isinstance(exc, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(exc)

"""``SendBuffer``: sends issued concurrently become one capacity-checking script call.

Each ``send`` queues its envelope and awaits a future. The first queued send starts a
flush task; tasks start on the next loop iteration, so every send issued by the tasks
that ran in this iteration is already queued when it runs. The flush turns the queue
into one ``SEND`` script call per slot (one per shard on standalone servers), chunked
so that one call never holds the server for long, and answers each future with the
script's per-message verdict (accepted, or full). Because the node pipes calls too
(see ``node.py``), a flush that starts while the previous batch is on the wire simply
queues behind it: throughput grows with concurrency instead of with round trips.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from ..stats import LayerStats
from .keys import now_ms
from .scripts import SEND
from .shard import Routed, Shard

__all__ = ["Outgoing", "SendBuffer"]

_MAX_PER_CALL = 500  # messages per script call: bounds how long one call blocks Redis


@dataclass(slots=True)
class Outgoing:
    """One message to send: the list it goes on, and for a process-specific channel the
    counts hash that enforces its own capacity."""

    slot: int
    list_key: str
    counts_key: str | None
    channel: str
    capacity: int
    envelope: bytes


class SendBuffer:
    """Coalesces the sends of one event loop to one shard."""

    def __init__(self, shard: Shard, stats: LayerStats, ttl_ms: int) -> None:
        self._shard = shard
        self._stats = stats
        self._ttl_ms = ttl_ms
        self._pending: list[tuple[Outgoing, asyncio.Future[bool]]] = []
        self._task: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[None]] = set()

    def submit(self, item: Outgoing) -> asyncio.Future[bool]:
        """Queue ``item``; the future says whether it was accepted (``False``: full)."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._task is None:
            self._task = asyncio.create_task(self._flush())
            self._inflight.add(self._task)
            self._task.add_done_callback(self._inflight.discard)
        return future

    async def _flush(self) -> None:
        batch, self._pending, self._task = self._pending, [], None
        by_slot: dict[int, list[tuple[Outgoing, asyncio.Future[bool]]]] = {}
        for item, future in batch:
            if not future.cancelled():  # a sender cancelled before the write sends nothing
                by_slot.setdefault(item.slot, []).append((item, future))
        calls: list[list[tuple[Outgoing, asyncio.Future[bool]]]] = []
        for items in by_slot.values():
            calls += [items[i : i + _MAX_PER_CALL] for i in range(0, len(items), _MAX_PER_CALL)]
        if not calls:
            return
        now = now_ms()
        try:
            replies = await self._shard.execute([self._command(call, now) for call in calls])
        except BaseException as exc:
            for call in calls:
                _fail(call, exc)
            if not isinstance(exc, Exception):
                raise
            return
        trimmed = 0
        for call, reply in zip(calls, replies, strict=True):
            if isinstance(reply, Exception):
                _fail(call, reply)
                continue
            trimmed += int(reply[-1])
            for (_, future), verdict in zip(call, reply, strict=False):
                if not future.done():
                    future.set_result(bool(verdict))
        if trimmed:
            self._stats.incr("expired", trimmed)

    def _command(self, call: list[tuple[Outgoing, asyncio.Future[bool]]], now: int) -> Routed:
        keys: dict[str, int] = {}
        argv: list[Any] = [now, self._ttl_ms]
        for item, _ in call:
            list_index = keys.setdefault(item.list_key, len(keys) + 1)
            counts_index = 0
            if item.counts_key is not None:
                counts_index = keys.setdefault(item.counts_key, len(keys) + 1)
            argv += [list_index, counts_index, item.channel, item.capacity, item.envelope]
        first = call[0][0].list_key
        return first, ("EVALSHA", SEND.sha, len(keys), *keys, *argv)

    async def close(self) -> None:
        for task in list(self._inflight):
            task.cancel()
        await asyncio.gather(*self._inflight, return_exceptions=True)
        _fail(self._pending, asyncio.CancelledError())
        self._pending = []


def _fail(call: list[tuple[Outgoing, asyncio.Future[bool]]], exc: BaseException) -> None:
    for _, future in call:
        if not future.done():
            if isinstance(exc, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(exc)

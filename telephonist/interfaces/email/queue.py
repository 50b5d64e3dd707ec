"""``RetryQueue``: the bounded outbound queue, with delayed retries that keep their slot.

Theory of operation
-------------------
``capacity`` counts every mail the interface holds: ready to send, being sent, or waiting
for a retry. A slot is taken by ``reserve``/``put_nowait`` and given back by ``done``,
so a mail waiting out its backoff still counts, and nothing can pile up beyond the
bound while a relay is down. Producers that must not drop (the ``email.send`` receive
loop) ``reserve`` a slot *before* taking a message off the layer, so the layer keeps
what we cannot hold and its own capacity pushes back on senders.

``get`` waits for a ready item, or for the earliest retry to fall due: a single timed
wait on an event, no polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections import deque
from typing import Generic, TypeVar

__all__ = ["RetryQueue"]

T = TypeVar("T")


class RetryQueue(Generic[T]):
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._held = 0  # slots taken: reserved, ready, in flight or delayed
        self._ready: deque[T] = deque()
        self._delayed: list[tuple[float, int, T]] = []
        self._seq = itertools.count()  # tie-breaker: items themselves need not compare
        self._changed = asyncio.Event()

    def __len__(self) -> int:
        return self._held

    @property
    def ready(self) -> int:
        return len(self._ready)

    @property
    def delayed(self) -> int:
        return len(self._delayed)

    def _notify(self) -> None:
        # Wake every waiter by setting the current event and starting a fresh one:
        # waiters re-check their condition, so a change is never missed and callers
        # may notify synchronously.
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_change(self, delay: float | None = None) -> None:
        """Return at the next change (an item queued, retried or done), or after
        ``delay`` seconds: a timed wait ending (a retry fell due) is a change too."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), delay)

    async def reserve(self) -> None:
        """Wait for a free slot and take it; pair with ``put_reserved`` or ``release``."""
        while self._held >= self.capacity:
            await self.wait_change()
        self._held += 1

    def put_reserved(self, item: T) -> None:
        self._ready.append(item)
        self._notify()

    def release(self) -> None:
        """Give back a slot taken by ``reserve`` that will not be used."""
        self.done()

    def put_nowait(self, item: T) -> bool:
        """Enqueue if a slot is free; ``False`` (nothing queued) when full."""
        if self._held >= self.capacity:
            return False
        self._held += 1
        self.put_reserved(item)
        return True

    def retry_later(self, item: T, delay: float) -> None:
        """Re-enqueue an item taken by ``get`` after ``delay`` seconds; keeps its slot."""
        due = asyncio.get_running_loop().time() + max(0.0, delay)
        heapq.heappush(self._delayed, (due, next(self._seq), item))
        self._notify()

    def done(self) -> None:
        """An item taken by ``get`` is finished (sent or given up): free its slot."""
        if self._held <= 0:
            raise RuntimeError("done() called more often than items were queued")
        self._held -= 1
        self._notify()

    def _promote_due(self, now: float) -> float | None:
        """Move due retries to the ready queue; seconds until the next one, or None."""
        while self._delayed and self._delayed[0][0] <= now:
            self._ready.append(heapq.heappop(self._delayed)[2])
        return self._delayed[0][0] - now if self._delayed else None

    async def get(self) -> T:
        """Wait for the next ready item (a due retry counts as ready)."""
        loop = asyncio.get_running_loop()
        while True:
            wait = self._promote_due(loop.time())
            if self._ready:
                return self._ready.popleft()
            await self.wait_change(wait)

    async def wait_empty(self) -> None:
        """Wait until every slot is free (used by the bounded drain at stop)."""
        while self._held:
            await self.wait_change()

    def drain_items(self) -> list[T]:
        """Remove and return everything still queued or delayed (at stop, for the log)."""
        items = list(self._ready) + [entry[2] for entry in self._delayed]
        self._ready.clear()
        self._delayed.clear()
        return items

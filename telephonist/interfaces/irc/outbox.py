"""Lines waiting to be sent on one connection, paced by the network's token bucket.

Theory of operation
-------------------
Everything a consumer asks for (and our JOINs, CTCP answers) goes through the outbox so
no burst of replies can get the bot disconnected for flooding. It is bounded: a batch of
lines that does not fit is refused whole, so a reply is never half sent because the
queue filled up in its middle.

Lines go out in the order they were put. While nothing waits and the bucket has a token,
``put`` writes at once: a bot within its flood limits pays no task switch per line. What
the bucket holds back waits in the queue, and one sender task per connection (``run``)
writes each line when the bucket has a token again; the wait is pacing, never
synchronisation. Without a bucket (``flood_control = false``) every line is written at
once and nothing ever waits. When the connection goes, the lines still waiting are
dropped (and counted by the caller): replies written for a conversation that has ended
would be stale on reconnect.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from .flood import TokenBucket

__all__ = ["Outbox"]


class Outbox:
    def __init__(
        self, bucket: TokenBucket | None, limit: int, write: Callable[[str], None]
    ) -> None:
        self._bucket = bucket
        self._limit = limit
        self._write = write
        self._queue: deque[str] = deque()
        self._waiting = asyncio.Event()  # set while lines wait: the sender has work
        self._empty = asyncio.Event()  # set while nothing waits: ``drained`` returns
        self._empty.set()

    def __len__(self) -> int:
        return len(self._queue)

    def put(self, lines: list[str]) -> bool:
        """Send all of ``lines``, or none of them (``False``) if they do not fit."""
        queue = self._queue
        if len(queue) + len(lines) > self._limit:
            return False
        bucket = self._bucket
        start = 0
        if not queue:  # nothing ahead of them: write what the bucket allows now
            while start < len(lines) and (bucket is None or bucket.take()):
                self._write(lines[start])
                start += 1
        if start < len(lines):
            queue.extend(lines[start:])
            self._empty.clear()
            self._waiting.set()
        return True

    async def run(self) -> None:
        """Write queued lines as the bucket allows, until cancelled."""
        queue = self._queue
        while True:
            if not queue:
                self._waiting.clear()
                self._empty.set()
                await self._waiting.wait()
                continue
            bucket = self._bucket
            if bucket is not None and not bucket.take():
                await asyncio.sleep(bucket.delay())  # flood control: wait for the next token
                continue
            self._write(queue.popleft())

    async def drained(self) -> None:
        """Return once every queued line has been written."""
        await self._empty.wait()

    def clear(self) -> int:
        """Drop what is waiting; returns how many lines were dropped."""
        dropped = len(self._queue)
        self._queue.clear()
        self._waiting.clear()
        self._empty.set()
        return dropped

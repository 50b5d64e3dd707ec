"""Lines waiting to be sent on one connection, paced by the network's token bucket.

Theory of operation
-------------------
Everything a consumer asks for (and our JOINs, CTCP answers) goes through the outbox so
no burst of replies can get the bot disconnected for flooding. It is bounded: a batch of
lines that does not fit is refused whole, so a reply is never half sent because the
queue filled up in its middle. One sender task per connection takes lines in order and
writes each when the bucket has a token; the wait is pacing, never synchronisation.
When the connection goes, the lines still waiting are dropped (and counted by the
caller): replies written for a conversation that has ended would be stale on reconnect.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from .flood import TokenBucket

__all__ = ["Outbox"]


class Outbox:
    def __init__(self, bucket: TokenBucket, limit: int, write: Callable[[str], None]) -> None:
        self._bucket = bucket
        self._limit = limit
        self._write = write
        self._queue: asyncio.Queue[str] = asyncio.Queue()

    def __len__(self) -> int:
        return self._queue.qsize()

    def put(self, lines: list[str]) -> bool:
        """Queue all of ``lines``, or none of them (``False``) if they do not fit."""
        if self._queue.qsize() + len(lines) > self._limit:
            return False
        for line in lines:
            self._queue.put_nowait(line)
        return True

    async def run(self) -> None:
        """Write queued lines as the bucket allows, until cancelled."""
        while True:
            line = await self._queue.get()
            try:
                delay = self._bucket.delay()
                if delay > 0:
                    await asyncio.sleep(delay)  # flood control: wait for the next token
                self._bucket.take()
                self._write(line)
            finally:
                self._queue.task_done()

    async def drained(self) -> None:
        """Return once every queued line has been written."""
        await self._queue.join()

    def clear(self) -> int:
        """Drop what is waiting; returns how many lines were dropped."""
        dropped = 0
        while not self._queue.empty():
            self._queue.get_nowait()
            self._queue.task_done()
            dropped += 1
        return dropped

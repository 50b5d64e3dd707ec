"""A stop gives up only on sync consumers that are running: idle pool threads (and any
other thread of the process) are not counted as "still running after the drain"."""

from __future__ import annotations

import asyncio
import threading

from telephonist.consumers import Message
from telephonist.core.memory import InMemoryChannelLayer
from telephonist.routing import Router, route
from telephonist.worker import Worker, sync_consumers_running

WITHIN = 5.0


async def test_only_running_sync_consumers_are_counted() -> None:
    layer = InMemoryChannelLayer()
    entered = threading.Event()
    release = threading.Event()
    done: list[str] = []

    def consumer(message: Message) -> None:
        if message["text"] == "hold":
            entered.set()
            release.wait(WITHIN)  # bounded: the test releases it
        done.append(message["text"])

    worker = Worker(layer, Router([route("work", consumer)]))
    await worker.start()
    try:
        await layer.send("work", {"text": "quick"})
        async with asyncio.timeout(WITHIN):
            while not done:
                await asyncio.sleep(0.01)  # polling a list a pool thread appends to
        assert sync_consumers_running() == 0  # its thread is idle in the pool, not counted

        await layer.send("work", {"text": "hold"})
        assert await asyncio.to_thread(entered.wait, WITHIN)
        assert sync_consumers_running() == 1
        await worker.stop(drain_timeout=0.1)  # gives up on it
        assert sync_consumers_running() == 1
    finally:
        release.set()
        await layer.close()
    async with asyncio.timeout(WITHIN):
        while sync_consumers_running():
            await asyncio.sleep(0.01)
    assert done == ["quick", "hold"]

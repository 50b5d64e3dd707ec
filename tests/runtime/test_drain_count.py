"""A stop gives up only on sync consumers that are running: idle pool threads (and any
other thread of the process) are not counted as "still running after the drain"."""

from __future__ import annotations

import asyncio
import threading

from telephonist.consumers import Message
from telephonist.core.memory import InMemoryChannelLayer
from telephonist.routing import Router, route
from telephonist.testing.processes import wait_until
from telephonist.worker import Worker, sync_consumers_running

WITHIN = 5.0


def _none_running() -> None:
    wait_until(lambda: sync_consumers_running() == 0, timeout=WITHIN, what="no sync consumer")


async def test_only_running_sync_consumers_are_counted() -> None:
    layer = InMemoryChannelLayer()
    entered, quick = threading.Event(), threading.Event()
    release = threading.Event()
    done: list[str] = []

    def consumer(message: Message) -> None:
        if message["text"] == "hold":
            entered.set()
            release.wait(WITHIN)  # bounded: the test releases it
        done.append(message["text"])
        quick.set()

    worker = Worker(layer, Router([route("work", consumer)]))
    await worker.start()
    try:
        await layer.send("work", {"text": "quick"})
        assert await asyncio.to_thread(quick.wait, WITHIN)
        # The count drops as the consumer's call returns, just after it set ``quick``.
        await asyncio.to_thread(_none_running)
        assert sync_consumers_running() == 0  # its thread is idle in the pool, not counted

        await layer.send("work", {"text": "hold"})
        assert await asyncio.to_thread(entered.wait, WITHIN)
        assert sync_consumers_running() == 1
        await worker.stop(drain_timeout=0.1)  # gives up on it
        assert sync_consumers_running() == 1
    finally:
        release.set()
        await layer.close()
    await asyncio.to_thread(_none_running)
    assert done == ["quick", "hold"]

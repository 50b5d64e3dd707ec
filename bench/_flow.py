"""Figures (1) and (2): send+receive throughput on one channel, and round-trip latency.

Theory of operation
-------------------
Throughput: one receiver task and ``senders`` sender tasks share one normal channel.
A semaphore of ``window`` slots bounds the messages in flight: a sender takes a slot before
each send and the receiver gives one back per message received, so the senders can never
run more than ``window`` ahead (kept under the layers' default capacity of 100, so
``ChannelFull`` is rare; when it happens the sender yields and retries, and the retry is
counted). The clock runs from the first real send to the last receive.

Round trip: A (the "interface") sends a ping carrying its reply channel, a process-specific
channel from ``new_channel()``, on a normal channel; B (the "worker") receives it and sends
the answer to that reply channel; A waits for it before sending the next ping. That is the
path an HTTP request takes through a split deployment.

Both start with a warm-up: a layer built on Redis pub/sub (``channels_redis.pubsub``) drops
whatever is published before its receiver has subscribed, and subscribing happens inside
the first ``receive``. So warm-up messages are sent until one comes back, then the run
starts; late warm-up messages are skipped by type. No layer ``receive`` is ever cancelled
by a timeout mid-run: pub/sub treats a cancelled receive as the consumer leaving and
unsubscribes. The caller bounds each run with one overall timeout instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from _layers import FULL_ERRORS, Layer, Message

__all__ = ["ThroughputRun", "cancel_and_wait", "round_trip", "throughput"]

WARMUP = "bench.warmup"
_WARMUP_TRIES = 200  # x 50 ms: ten seconds for a layer to start delivering


@dataclass(frozen=True)
class ThroughputRun:
    messages: int
    seconds: float
    full_retries: int

    @property
    def rate(self) -> float:
        return self.messages / self.seconds


async def _send_until_accepted(layer: Layer, channel: str, message: Message) -> int:
    """Send, retrying on ``ChannelFull`` after yielding; returns the number of retries."""
    retries = 0
    while True:
        try:
            await layer.send(channel, message)
        except FULL_ERRORS:
            retries += 1
            await asyncio.sleep(0)
        else:
            return retries


async def _warm_up(send: Callable[[], Awaitable[object]], ready: asyncio.Event) -> None:
    for _ in range(_WARMUP_TRIES):
        await send()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ready.wait(), 0.05)
            return
    raise TimeoutError("the layer delivered none of the warm-up messages")


def _receiver(layer: Any, batch: bool) -> Callable[[str], Awaitable[list[Message]]]:
    if batch:
        return lambda channel: layer.receive_many(channel, 100)

    async def one(channel: str) -> list[Message]:
        return [await layer.receive(channel)]

    return one


async def throughput(
    layer: Layer, messages: int, *, senders: int, window: int, batch: bool, process: bool = False
) -> ThroughputRun:
    # ``process``: the receiver's own ``!`` channel from ``new_channel()``, read with plain
    # ``receive()``, as every Channels consumer reads its ``channel_name``.
    channel = await layer.new_channel("bench.") if process else "bench.throughput"
    slots = asyncio.Semaphore(window)
    warm, done = asyncio.Event(), asyncio.Event()
    received = retries = 0
    receive = _receiver(layer, batch)

    async def receiver() -> None:
        nonlocal received
        while received < messages:
            for message in await receive(channel):
                if message["type"] == WARMUP:
                    warm.set()
                    continue
                received += 1
                slots.release()
        done.set()

    async def sender(count: int) -> None:
        nonlocal retries
        for n in range(count):
            await slots.acquire()
            message = {"type": "bench.message", "n": n, "text": "hello from a sender"}
            retries += await _send_until_accepted(layer, channel, message)

    counts = [messages // senders + (i < messages % senders) for i in range(senders)]
    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(receiver())
        await _warm_up(lambda: _send_until_accepted(layer, channel, {"type": WARMUP}), warm)
        start = time.perf_counter()
        for count in counts:
            tasks.create_task(sender(count))
        await done.wait()
        seconds = time.perf_counter() - start
    return ThroughputRun(messages, seconds, retries)


async def _echo(layer: Layer, channel: str) -> None:
    """B: answer every ping on its reply channel, until cancelled."""
    while True:
        ping = await layer.receive(channel)
        await layer.send(ping["reply"], {"type": "bench.pong", "n": ping["n"]})


async def round_trip(layer: Layer, count: int, *, discard: int) -> list[float]:
    """Seconds per round trip, ``count`` of them after ``discard`` unrecorded ones."""
    ping_channel = "bench.ping"
    reply = await layer.new_channel()
    started = asyncio.Event()
    samples: list[float] = []

    async def ping(n: int) -> None:
        await layer.send(ping_channel, {"type": "bench.ping", "n": n, "reply": reply})

    async def pinger() -> None:  # A
        expected, sent_at = 0, 0.0
        while True:
            answer = await layer.receive(reply)
            now = time.perf_counter()
            if answer["n"] != expected and started.is_set():
                continue  # a late warm-up echo
            if started.is_set():
                samples.append(now - sent_at)
                expected += 1
                if expected == count + discard:
                    return
            started.set()
            sent_at = time.perf_counter()
            await ping(expected)

    echo = asyncio.create_task(_echo(layer, ping_channel))
    try:
        async with asyncio.TaskGroup() as tasks:
            finished = tasks.create_task(pinger())
            await _warm_up(lambda: ping(-1), started)
            await finished
    finally:
        await cancel_and_wait([echo])
    return samples[discard:]


async def cancel_and_wait(tasks: Sequence[asyncio.Task[Any]], limit: float = 5.0) -> None:
    """Cancel ``tasks`` and give them ``limit`` seconds to finish, ignoring how they end.

    Bounded because a layer may swallow a cancellation: channels_redis core with redis-py
    8's default 5 s socket timeout, cancelled mid-command, kept waiting until that timeout.
    """
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=limit)
    for task in tasks:
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: no "exception was never retrieved" noise
        elif not task.done():
            task.add_done_callback(lambda t: t.cancelled() or t.exception())

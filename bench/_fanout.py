"""Figures (3) and (4): ``group_send`` fan-out, and Redis commands while idle.

Fan-out: ``members`` process-specific channels from ``new_channel()`` join one group, one
receiver task waits on each, and once the event loop is quiet (every receiver parked) the
clock runs from the ``group_send`` call to the last member's receive; this process's CPU
time over the same span is kept too (``cpu``: the layer's client side, which load from
other processes on the machine stretches far less than the wall clock). Members past the
``cap`` are not waited for: the run reports ``None`` ("more than cap"). A layer that
cannot even start the receivers within ``start_limit`` is reported as too slow to set up.

Fan-out to listeners: the same group, but each member is a *listener*
(``telephonist/core/listeners.py``), as the interface server's reply channels are when
their handler never waits (WebSockets): the clock runs from the ``group_send`` call to
the last member's call, with no receiver task to wake. Only layers offering ``listen``.

Idle: one receive is left pending on a process-specific channel, and the private server's
``INFO commandstats`` is read before and after ``seconds`` of doing nothing else. A layer
that polls (a blocking pop with a timeout, re-issued) shows up as commands per interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from functools import partial
from typing import Any

from _flow import cancel_and_wait
from _layers import Layer
from _report import TooSlow
from _servers import CommandCounter

__all__ = ["FanOutRun", "fan_out", "fan_out_listeners", "idle_commands"]

_JOIN_CONCURRENCY = 64  # group_add calls in flight while setting up (not measured)
_SETTLE = 0.25  # seconds between setting up and measuring
_START_BATCH = 250  # receivers started per loop iteration


@dataclass(frozen=True)
class FanOutRun:
    seconds: float | None  # None: not every member received within the cap
    send_returned: float  # how long the group_send call itself took
    received: int
    # CPU time of this process (its one thread) over the same span as ``seconds``: the
    # layer's client side, which a loaded machine stretches far less than wall time.
    cpu: float | None = None


async def _wait_until_quiet(limit: float = 10.0) -> None:
    """Return once a 20 ms sleep overshoots by under 5 ms: nothing else is runnable."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        start = time.perf_counter()
        await asyncio.sleep(0.02)
        if time.perf_counter() - start < 0.025:
            return


async def _join(layer: Layer, group: str, members: int) -> list[str]:
    channels = [await layer.new_channel() for _ in range(members)]
    for i in range(0, members, _JOIN_CONCURRENCY):
        chunk = channels[i : i + _JOIN_CONCURRENCY]
        await asyncio.gather(*(layer.group_add(group, ch) for ch in chunk))
    return channels


async def _start(
    tasks: list[asyncio.Task[None]],
    jobs: list[Callable[[], Coroutine[Any, Any, None]]],
    limit: float,
) -> None:
    """Start ``jobs`` as tasks in batches, giving up (``TooSlow``) past ``limit`` seconds.

    In batches, because one loop iteration runs every task started before it: Channels'
    in-memory ``receive()`` scans every channel and group member on entry, so 10,000 of
    them started at once is one uninterruptible iteration of 10,000 x 10,000 steps.
    """
    deadline = time.monotonic() + limit
    for i in range(0, len(jobs), _START_BATCH):
        tasks.extend(asyncio.create_task(job()) for job in jobs[i : i + _START_BATCH])
        await asyncio.sleep(0)
        if time.monotonic() > deadline:
            raise TooSlow(
                f"> {limit:g}s setup",
                f"starting {len(jobs):,} waiting receivers took more than {limit:g} s",
            )


async def fan_out(layer: Layer, members: int, *, cap: float, start_limit: float) -> FanOutRun:
    group = f"bench-fanout-{secrets.token_hex(4)}"
    channels = await _join(layer, group, members)
    remaining = members
    last = last_cpu = 0.0
    everyone = asyncio.Event()

    async def member(channel: str) -> None:
        nonlocal remaining, last, last_cpu
        await layer.receive(channel)
        remaining -= 1
        if remaining == 0:
            last, last_cpu = time.perf_counter(), time.thread_time()
            everyone.set()

    receivers: list[asyncio.Task[None]] = []
    try:
        await _start(receivers, [partial(member, ch) for ch in channels], start_limit)
        # channels_redis pubsub's reader sleeps 0.1 s per turn until its first subscription
        # is confirmed: let every layer settle before the clock starts.
        await asyncio.sleep(_SETTLE)
        await _wait_until_quiet()
        start, start_cpu = time.perf_counter(), time.thread_time()
        await layer.group_send(group, {"type": "bench.fanout", "text": "to everyone"})
        send_returned = time.perf_counter() - start
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(everyone.wait(), max(0.0, cap - send_returned))
    finally:
        await cancel_and_wait(receivers)
    done = everyone.is_set()
    seconds = last - start if done else None
    cpu = last_cpu - start_cpu if done else None
    return FanOutRun(seconds, send_returned, members - remaining, cpu)


class _Member:
    """A listener that is always ready and counts down to the last member."""

    ready = True

    def __init__(self, countdown: Callable[[], None]) -> None:
        self._countdown = countdown

    def __call__(self, message: dict[str, Any]) -> None:
        self._countdown()


async def fan_out_listeners(layer: Any, members: int, *, cap: float) -> FanOutRun:
    group = f"bench-fanout-{secrets.token_hex(4)}"
    channels = await _join(layer, group, members)
    remaining = members
    last = last_cpu = 0.0
    everyone = asyncio.Event()

    def countdown() -> None:
        nonlocal remaining, last, last_cpu
        remaining -= 1
        if remaining == 0:
            last, last_cpu = time.perf_counter(), time.thread_time()
            everyone.set()

    listeners = [_Member(countdown) for _ in channels]
    for channel, listener in zip(channels, listeners, strict=True):
        layer.listen(channel, listener)
    try:
        await asyncio.sleep(_SETTLE)  # the inbox reader connects and blocks
        await _wait_until_quiet()
        start, start_cpu = time.perf_counter(), time.thread_time()
        await layer.group_send(group, {"type": "bench.fanout", "text": "to everyone"})
        send_returned = time.perf_counter() - start
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(everyone.wait(), max(0.0, cap - send_returned))
    finally:
        for channel, listener in zip(channels, listeners, strict=True):
            layer.unlisten(channel, listener)
    done = everyone.is_set()
    seconds = last - start if done else None
    cpu = last_cpu - start_cpu if done else None
    return FanOutRun(seconds, send_returned, members - remaining, cpu)


async def idle_commands(
    layer: Layer | None, port: int, *, seconds: float, settle: float = 0.5
) -> dict[str, int]:
    """Commands the server ran, by name, while the layer sat on one pending receive
    (``layer`` None: with nothing attached, the control)."""
    pending = []
    if layer is not None:
        channel = await layer.new_channel()
        pending.append(asyncio.create_task(layer.receive(channel)))
    counter = CommandCounter(port)
    try:
        await asyncio.sleep(settle)  # connect, subscribe, start loops: not idle yet
        before = await asyncio.to_thread(counter.snapshot)
        await asyncio.sleep(seconds)
        after = await asyncio.to_thread(counter.snapshot)
        if pending and pending[0].done():
            raise RuntimeError(f"the pending receive ended: {pending[0]!r}")
    finally:
        await cancel_and_wait(pending)
        counter.close()
    return CommandCounter.calls_since(before, after)

"""Stop requests from other threads (``request_stop``): what Django's autoreloader needs,
whose server loop runs outside the main thread that gets the signals."""

from __future__ import annotations

import asyncio
import threading

from telephonist.runtime.signals import StopSignals, request_stop

WITHIN = 5.0


def _from_a_thread(reason: str, force: bool = False) -> None:
    thread = threading.Thread(target=request_stop, args=(reason,), kwargs={"force": force})
    thread.start()
    thread.join(WITHIN)


async def test_a_request_from_another_thread_stops_gracefully_and_repeats_are_one_stop() -> None:
    async with StopSignals() as stop:
        _from_a_thread("SIGINT")
        await asyncio.wait_for(stop.requested.wait(), WITHIN)
        _from_a_thread("SIGINT (relayed)")  # the same stop, seen twice: still graceful
        handled = asyncio.Event()  # queued behind the relayed request, so it ran first
        asyncio.get_running_loop().call_soon_threadsafe(handled.set)
        await asyncio.wait_for(handled.wait(), WITHIN)
        assert not stop.forced.is_set()
        _from_a_thread("SIGINT", force=True)  # a second Ctrl-C: skip the drain
        await asyncio.wait_for(stop.forced.wait(), WITHIN)


async def test_a_request_before_the_runtime_starts_waits_for_it() -> None:
    request_stop("SIGTERM")
    async with StopSignals() as stop:
        assert stop.requested.is_set()
        assert not stop.forced.is_set()
    async with StopSignals() as later:  # taken once: the next runtime starts afresh
        assert not later.requested.is_set()

"""HTTP/2 attacks from raw ``h2`` connections (and frames made by hand with hyperframe
where ``h2`` would refuse to send them): each gets its GOAWAY and counter, and a
well-behaved httpx client on another connection is served all along."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import h2.events
import h2.settings
import httpx
from hyperframe.frame import ContinuationFrame, DataFrame, HeadersFrame

from telephonist.interfaces.mounts import mount, unmount
from tests.http import apps
from tests.http.h2client import Raw
from tests.http.harness import Probe, port_of, serve

PROTOCOL_ERROR, FLOW_CONTROL_ERROR, CANCEL, ENHANCE_YOUR_CALM = 0x1, 0x3, 0x8, 0xB


async def well_behaved(url: str, stop: asyncio.Event) -> int:
    """A client that keeps asking, on a connection of its own, until ``stop``."""
    served = 0
    async with httpx.AsyncClient(http1=False, http2=True) as client:
        while not stop.is_set() or served == 0:
            r = await client.get(f"{url}/fine")
            assert r.status_code == 200
            served += 1
    return served


async def beside(
    port: int, probe: Probe, attack: Callable[[], Awaitable[None]], *counters: str
) -> None:
    """Run ``attack`` while a well-behaved client is served: it must be served at least
    once, and each of ``counters`` must count the attack."""
    stop = asyncio.Event()
    good = asyncio.create_task(well_behaved(f"http://127.0.0.1:{port}", stop))
    try:
        await attack()
    finally:
        stop.set()
    assert await asyncio.wait_for(good, 20) >= 1
    for counter in counters:
        await probe.counted(counter)


@contextlib.asynccontextmanager
async def server() -> AsyncIterator[tuple[int, Probe]]:
    # Not a fixture: async fixtures may run on another loop than the session's, where
    # Twisted's reactor lives (conftest.py).
    async with serve(apps.echo, write_timeout=0.5) as (iface, probe, _w):
        yield port_of(iface), probe


async def test_rapid_reset_gets_goaway_and_others_are_served() -> None:
    async with server() as (port, probe):
        await _rapid_reset(port, probe)


async def _rapid_reset(port: int, probe: Probe) -> None:

    async def attack() -> None:
        raw = await Raw.open(port)
        for i in range(500):
            sid = 1 + 2 * i
            raw.request(sid)
            raw.conn.reset_stream(sid, CANCEL)
        raw.flush()
        await raw.goaway(ENHANCE_YOUR_CALM)

    await beside(port, probe, attack, "h2_rapid_reset")


async def test_continuation_flood_gets_goaway() -> None:
    async with server() as (port, probe):
        await _continuation_flood(port, probe)


async def _continuation_flood(port: int, probe: Probe) -> None:

    async def attack() -> None:
        raw = await Raw.open(port)
        block = raw.conn.encoder.encode(
            [(":method", "GET"), (":path", "/"), (":scheme", "http"), (":authority", "x")]
        )
        frames = [HeadersFrame(1, data=block[:5]).serialize()]
        frames += [ContinuationFrame(1, data=b"\x00" * 100).serialize() for _ in range(1000)]
        raw.writer.write(b"".join(frames))
        await raw.goaway(ENHANCE_YOUR_CALM)

    await beside(port, probe, attack, "h2_continuation_flood")


async def test_data_past_the_window_gets_flow_control_error() -> None:
    """A stream whose body nobody reads (a mounted app that never calls ``receive``)
    holds at most its window; a client that sends past it gets FLOW_CONTROL_ERROR."""
    held = asyncio.Event()

    async def never_reads(scope: dict[str, Any], receive: Any, send: Any) -> None:
        held.set()
        await asyncio.sleep(3600)  # cancelled when the exchange ends

    mount("/hold", never_reads)
    try:
        async with serve(apps.echo) as (iface, probe, _w):
            port = port_of(iface)

            async def attack() -> None:
                raw = await Raw.open(port)
                raw.request(1, "/hold", end=False)
                raw.flush()
                await asyncio.wait_for(held.wait(), 10)
                chunk = b"x" * 16384  # 5 x 16 KiB: 16 KiB past the 64 KiB window
                raw.writer.write(b"".join(DataFrame(1, data=chunk).serialize() for _ in range(5)))
                await raw.goaway(FLOW_CONTROL_ERROR)

            await beside(port, probe, attack, "h2_flow_control")
    finally:
        unmount("/hold", never_reads)


async def test_a_client_that_opens_no_window_is_reset_after_write_timeout() -> None:
    """The response waits for a window (on the layer, not here) for ``write_timeout``,
    then its stream is reset; the connection and everyone else carry on."""
    async with server() as (port, probe):
        await _no_window(port, probe)


async def _no_window(port: int, probe: Probe) -> None:

    async def attack() -> None:
        raw = await Raw.open(port, window=0)
        raw.request(1, "/starved")
        raw.flush()
        reset = await raw.until(h2.events.StreamReset)
        assert reset is not None
        assert reset.error_code == CANCEL
        # The same connection still answers a stream it can read.
        raw.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 65535})
        raw.request(3, "/fed")
        raw.flush()
        ended = await raw.until(h2.events.StreamEnded)
        assert ended.stream_id == 3
        await raw.close()

    await beside(port, probe, attack, "slow_read")


async def test_ping_flood_and_too_many_streams_get_goaway() -> None:
    async with server() as (port, probe):

        async def attack() -> None:
            raw = await Raw.open(port)
            for i in range(200):
                raw.conn.ping(i.to_bytes(8, "big"))
            raw.flush()
            await raw.goaway(ENHANCE_YOUR_CALM)
            # 101 streams at once where 100 are allowed (h2 counts them as they open).
            raw = await Raw.open(port)
            for i in range(101):
                headers = [(":method", "POST"), (":path", "/"), (":scheme", "http")]
                frame = HeadersFrame(1 + 2 * i, flags=["END_HEADERS"])
                frame.data = raw.conn.encoder.encode([*headers, (":authority", "x")])
                raw.writer.write(frame.serialize())
            await raw.goaway(PROTOCOL_ERROR)

        await beside(port, probe, attack, "h2_ping_flood", "h2_too_many_streams")


async def test_settings_and_empty_data_floods_and_an_hpack_bomb_get_goaway() -> None:
    async with server() as (port, probe):

        async def attack() -> None:
            raw = await Raw.open(port)
            for _ in range(100):
                raw.conn.update_settings({h2.settings.SettingCodes.ENABLE_PUSH: 0})
            raw.flush()
            await raw.goaway(ENHANCE_YOUR_CALM)
            raw = await Raw.open(port)
            raw.request(1, "/drip", end=False)
            raw.writer.write(b"".join(DataFrame(1, data=b"").serialize() for _ in range(200)))
            raw.flush()
            await raw.goaway(ENHANCE_YOUR_CALM)
            # 4 KB into the HPACK table once, then referenced 19 more times in one
            # block of a few hundred bytes: 80 KB decoded.
            raw = await Raw.open(port)
            raw.conn.send_headers(
                1,
                [(":method", "GET"), (":path", "/"), (":scheme", "http"), (":authority", "x")]
                + [("x-big", "a" * 4000)] * 20,
                end_stream=True,
            )
            raw.flush()
            await raw.goaway(ENHANCE_YOUR_CALM)

        await beside(
            port,
            probe,
            attack,
            "h2_settings_flood",
            "h2_empty_data_flood",
            "h2_header_list_too_large",
        )

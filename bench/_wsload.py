"""WebSocket clients for ``bench/ws.py``: echo round trips, and many idle connections.

Built on the ``websockets`` library's asyncio client with its keepalive pings off, so
the only traffic is what we send (and the server's own pings, if its interval falls
in the window). Connections are opened in bounded batches: Twisted listens with a
backlog of 50, and a burst of thousands of SYNs would measure SYN retries, not servers.

Echo: ``connections`` sockets each send a small text frame, wait for it to come back,
and repeat, for ``warmup + seconds``; only trips that complete inside the measured
window count, so the rate is trips in the window over its length, and p50/p99 are
over those trips' round-trip times.
"""

from __future__ import annotations

import asyncio
import resource
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from websockets.asyncio.client import ClientConnection, connect
from websockets.protocol import State

__all__ = ["EchoResult", "echo_load", "idle_connections", "open_count", "raise_nofile"]

PAYLOAD = "x" * 32


@dataclass(frozen=True)
class EchoResult:
    rate: float  # round trips per second
    p50: float  # seconds
    p99: float
    trips: int


def raise_nofile(wanted: int) -> int:
    """Raise this process's open-file limit towards ``wanted`` (up to the hard limit);
    the servers we start inherit it. Returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


async def _open_one(url: str) -> ClientConnection:
    ws = await connect(url, ping_interval=None, open_timeout=30, max_queue=4)
    await ws.send(PAYLOAD)  # one echo: the connection is accepted and its consumer live
    if await asyncio.wait_for(ws.recv(), 30) != PAYLOAD:
        raise RuntimeError("echo returned something else")
    return ws


async def _open(url: str, count: int, batch: int) -> list[ClientConnection]:
    sockets: list[ClientConnection] = []
    try:
        for start in range(0, count, batch):
            n = min(batch, count - start)
            sockets += await asyncio.gather(*(_open_one(url) for _ in range(n)))
    except BaseException:
        _abort(sockets)
        raise
    return sockets


def _abort(sockets: list[ClientConnection]) -> None:
    for ws in sockets:
        ws.transport.abort()


async def echo_load(
    url: str, *, connections: int, seconds: float, warmup: float, batch: int = 50
) -> EchoResult:
    sockets = await _open(url, connections, batch)
    latencies: list[float] = []
    start = time.perf_counter() + warmup
    end = start + seconds

    async def client(ws: ClientConnection) -> None:
        while True:
            sent = time.perf_counter()
            if sent >= end:
                return
            await ws.send(PAYLOAD)
            if await ws.recv() != PAYLOAD:
                raise RuntimeError("echo returned something else")
            done = time.perf_counter()
            if start <= done <= end and sent >= start:
                latencies.append(done - sent)

    try:
        await asyncio.gather(*(client(ws) for ws in sockets))
    finally:
        _abort(sockets)
    if not latencies:
        raise RuntimeError("no round trip completed in the measured window")
    latencies.sort()
    n = len(latencies)
    return EchoResult(n / seconds, latencies[n // 2], latencies[min(n - 1, int(n * 0.99))], n)


@asynccontextmanager
async def idle_connections(
    url: str, count: int, batch: int
) -> AsyncIterator[list[ClientConnection]]:
    """``count`` open connections, each having done one echo; aborted on the way out."""
    sockets = await _open(url, count, batch)
    try:
        yield sockets
    finally:
        _abort(sockets)


def open_count(sockets: list[ClientConnection]) -> int:
    return sum(1 for ws in sockets if ws.state is State.OPEN)

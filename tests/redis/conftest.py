"""Fixtures for the Redis layer's own tests: private servers per test and a probe that
reads the server's own counters, so tests assert what the server saw, not what the
layer believes it did."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from telephonist.core.redis import RedisChannelLayer
from tests.servers import RedisServer, find_redis_server, require_service

T = 5.0  # bound on any wait for something that should happen promptly

StartServer = Callable[..., RedisServer]
MakeLayer = Callable[..., RedisChannelLayer]


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    """``start_server(**RedisServer options)`` starts a private server for this test."""
    binary = find_redis_server()
    if binary is None:
        require_service("a redis-server/valkey-server binary")
        raise AssertionError("unreachable")
    started: list[RedisServer] = []

    def start(**options: Any) -> RedisServer:
        options.setdefault("binary", binary)
        server = RedisServer(directory=tmp_path / f"server{len(started)}", **options)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def server(start_server: StartServer) -> RedisServer:
    """A private server: tests that count commands must not share one."""
    return start_server()


@pytest.fixture
async def make_layer() -> AsyncIterator[MakeLayer]:
    """``make_layer(hosts, **options)``: a layer with a fresh prefix, closed afterwards."""
    made: list[RedisChannelLayer] = []

    def make(hosts: Any, **options: Any) -> RedisChannelLayer:
        options.setdefault("prefix", f"t{secrets.token_hex(4)}")
        layer = RedisChannelLayer(hosts=hosts, **options)
        made.append(layer)
        return layer

    yield make
    for layer in made:
        await layer.close()


class Probe:
    """A plain synchronous client on the side, to look at the server."""

    def __init__(self, server: RedisServer) -> None:
        if server.unixsocket is not None:
            self.client = redis.Redis(unix_socket_path=str(server.unixsocket))
        else:
            self.client = redis.Redis(host="127.0.0.1", port=server.port)

    def commands(self) -> dict[str, int]:
        """Calls per command since start (``INFO commandstats``), our own INFO left out."""
        stats: dict[str, Any] = self.client.info("commandstats")
        return {
            name.removeprefix("cmdstat_"): int(value["calls"])
            for name, value in stats.items()
            if name != "cmdstat_info"
        }

    def blocked_clients(self) -> int:
        return int(self.client.info("clients")["blocked_clients"])

    async def until_blocked(self, n: int) -> None:
        """Wait until ``n`` clients are parked in a blocking pop (a readiness probe)."""
        async with asyncio.timeout(T):
            while self.blocked_clients() != n:  # noqa: ASYNC110 (another process's state)
                await asyncio.sleep(0.01)


def command_delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}


@pytest.fixture
def probe(server: RedisServer) -> Iterator[Probe]:
    p = Probe(server)
    yield p
    p.client.close()

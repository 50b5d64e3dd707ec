from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import RedisServer, find_redis_server, require_service


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One private Redis-protocol server for the session (tests flush their own prefix)."""
    binary = find_redis_server()
    if binary is None:
        require_service("a redis-server/valkey-server binary")
        raise AssertionError("unreachable")
    server = RedisServer(binary, Path(tmp_path_factory.mktemp("redis"))).start()
    yield server
    server.stop()

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from telephonist.testing.processes import free_port
from tests.plugin_path import install_for_tests
from tests.servers import RedisServer, create_cluster, find_redis_server, redis_cli, require_service

# Property tests assert behaviour, not speed: on a loaded 2-core CI machine an example
# can take longer than Hypothesis's 200 ms default deadline and fail as "flaky".
settings.register_profile("telephonist", deadline=None)
settings.load_profile("telephonist")

# The test plugins (tests/plugins/*) exist only for the tests: see tests/plugin_path.py.
install_for_tests()


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


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[RedisServer]]:
    """A private three-primary Redis Cluster (made with ``valkey-cli --cluster create``)."""
    binary = find_redis_server()
    if binary is None or redis_cli(binary) is None:
        require_service("a redis-server/valkey-server binary with its CLI, for a cluster")
        raise AssertionError("unreachable")
    base = Path(tmp_path_factory.mktemp("cluster"))
    nodes: list[RedisServer] = []
    try:
        for i in range(3):
            node = RedisServer(
                binary,
                base / f"node{i}",
                # The bus port is port + 10000 unless named: free ports may be too high.
                extra_args=(
                    *("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"),
                    *("--cluster-port", str(free_port())),
                ),
            )
            nodes.append(node.start())
        create_cluster(nodes)
        yield nodes
    finally:
        for node in nodes:
            node.stop()

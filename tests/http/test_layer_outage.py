"""The layer's server gone for longer than the layer's ``retry_budget`` (a Redis
restart, a slow Sentinel failover): the HTTP interface answers 503 with Retry-After,
a WebSocket handshake is refused with 503 and an open WebSocket whose frame cannot
reach a consumer is closed with 1013 (try again later). Each is logged once and
counted (``layer_unavailable``), never a reset or a traceback. Split processes
(``telephonist serve`` and ``telephonist worker``) over a private server that the test
kills (SIGKILL)."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.http.process import RunningServer, toml_for
from tests.servers import RedisServer, find_redis_server, require_service

pytestmark = [pytest.mark.redis]

RETRY_BUDGET = 0.5


def test_layer_outage_gets_503_and_1013_not_a_reset(tmp_path: Path) -> None:
    binary = find_redis_server()
    if binary is None:
        require_service("a redis-server/valkey-server binary")
        raise AssertionError("unreachable")
    redis = RedisServer(binary, tmp_path / "redis").start()
    config = {
        "hosts": [redis.url],
        "prefix": f"o{secrets.token_hex(4)}",
        "retry_budget": RETRY_BUDGET,
        "reconnect_max_delay": 0.2,
    }
    env = {
        "TELEPHONIST_LAYER__BACKEND": "redis",
        "TELEPHONIST_LAYER__CONFIG": json.dumps(config),
        # Long enough that the worker's missing heartbeats are not what closes sockets.
        "TELEPHONIST_AFFINITY__HEARTBEAT_INTERVAL": "30",
    }
    toml = toml_for()
    server = RunningServer(tmp_path / "serve", toml, env=env, command="serve").ready()
    worker = RunningServer(tmp_path / "worker", toml, env=env, command="worker").ready()
    try:
        base = f"http://127.0.0.1:{server.port}"
        assert httpx.get(f"{base}/echo/before", timeout=10).status_code == 200
        with connect(f"ws://127.0.0.1:{server.port}/ws/echo", open_timeout=10) as ws:
            ws.send("before")
            assert ws.recv(timeout=10) == "echo:before"
            assert redis.proc is not None
            redis.proc.kill()
            redis.proc.wait(10)

            started = time.monotonic()
            answer = httpx.get(f"{base}/echo/during", timeout=30)
            assert answer.status_code == 503
            assert answer.headers["retry-after"] == "5"
            assert time.monotonic() - started < RETRY_BUDGET + 5

            ws.send("during")
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=RETRY_BUDGET + 10)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1013

        with pytest.raises(InvalidStatus) as refused:
            connect(f"ws://127.0.0.1:{server.port}/ws/echo", open_timeout=30)
        assert refused.value.response.status_code == 503

        # The server still serves once the layer's server is back.
        redis.start()
        deadline = time.monotonic() + 20
        while httpx.get(f"{base}/echo/after", timeout=30).status_code != 200:
            assert time.monotonic() < deadline, "not serving after the layer came back"
            time.sleep(0.1)  # poll interval of a bounded wait
        log = server.stderr()
        assert "http layer_unavailable from 127.0.0.1" in log, log
        assert "Traceback" not in log, log
    finally:
        worker.stop()
        server.stop()
        redis.stop()

"""Split deployment: ``telephonist serve`` and ``telephonist worker`` as separate
processes over a real Redis-protocol server. A request and a WebSocket are served
across processes; when the worker holding them is killed (SIGKILL: no goodbye), the
host notices its missing heartbeats and the interface answers the protocol's way:
502 for the request that had no response yet, close 1011 for the WebSocket."""

from __future__ import annotations

import secrets
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.http.process import RunningServer, toml_for
from tests.servers import RedisServer

pytestmark = [pytest.mark.redis]

HEARTBEAT, MISSES = 0.3, 3


def test_killed_worker_gets_502_and_1011(redis_server: RedisServer, tmp_path: Path) -> None:
    env = {
        "TELEPHONIST_LAYER__BACKEND": "redis",
        "TELEPHONIST_LAYER__CONFIG": (
            f'{{"hosts": ["{redis_server.url}"], "prefix": "h{secrets.token_hex(4)}"}}'
        ),
        "TELEPHONIST_AFFINITY__HEARTBEAT_INTERVAL": str(HEARTBEAT),
        "TELEPHONIST_AFFINITY__HEARTBEAT_MISSES": str(MISSES),
    }
    toml = toml_for()
    server = RunningServer(tmp_path / "serve", toml, env=env, command="serve").ready()
    worker = RunningServer(tmp_path / "worker", toml, env=env, command="worker").ready()
    try:
        base = f"http://127.0.0.1:{server.port}"
        assert httpx.post(f"{base}/echo/split", content=b"x" * 200_000).json()["length"] == 200_000
        ws = connect(f"ws://127.0.0.1:{server.port}/ws/echo").__enter__()
        ws.send("bound")
        assert ws.recv(timeout=10) == "echo:bound"
        answer: list[httpx.Response] = []
        request = threading.Thread(
            target=lambda: answer.append(httpx.get(f"{base}/hang", timeout=30)), daemon=True
        )
        request.start()
        worker.wait_for_line("hanging on /hang")
        worker.proc.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        request.join(30)
        assert answer, "no answer after the worker was killed"
        assert answer[0].status_code == 502
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1011
        # Far below response_timeout (60 s). Usually HEARTBEAT x MISSES; the host's
        # watchdog is not woken when an idle worker gets a new connection, so it can
        # sleep until a stale bind deadline (bind_timeout, 10 s) first: a host issue.
        assert time.monotonic() - killed_at < 10 + 5
        assert "aborted" in server.stderr()
    finally:
        worker.stop()
        server.stop()

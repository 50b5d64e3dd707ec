"""Split deployment: ``telephonist serve`` and ``telephonist worker`` as separate
processes over a real Redis-protocol server. A request and a WebSocket are served
across processes; when the worker holding them is killed (SIGKILL: no goodbye), the
host notices its missing heartbeats and the interface answers the protocol's way:
502 for the request that had no response yet, close 1011 for the WebSocket. A request
in one message is a single-event connection (no affinity, nobody watches its worker):
it gets its 504 at ``response_timeout`` instead."""

from __future__ import annotations

import json
import secrets
import shutil
import signal
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from telephonist.testing.processes import wait_until
from tests.http.process import RunningServer, toml_for
from tests.servers import RedisServer

pytestmark = [pytest.mark.redis]

HEARTBEAT, MISSES = 0.3, 3
RESPONSE_TIMEOUT = 5.0


def _host_status(directory: Path, pid: int) -> dict[str, Any]:
    """The host's own snapshot, from its status socket (what ``telephonist status`` reads)."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(5)
        sock.connect(str(directory / f"{pid}.sock"))
        document: dict[str, Any] = json.loads(sock.makefile("rb").readline())
    hosts: list[dict[str, Any]] = [p for p in document["parts"] if p["kind"] == "host"]
    return hosts[0]


def _wait_until_bound(directory: Path, pid: int, count: int, within: float = 10.0) -> None:
    """Until the host has ``count`` connections bound to a worker. A worker prints as
    it starts running an event, when its bind may still be on its way: killed before
    the bind is out, the connection is aborted at ``bind_timeout`` instead."""
    wait_until(
        lambda: _host_status(directory, pid)["affinity"]["connections"].get("bound", 0) >= count,
        timeout=within,
        what=f"{count} connections bound",
    )


def test_killed_worker_gets_502_1011_and_single_message_requests_504(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    status_dir = tempfile.mkdtemp(prefix="tp-status-")
    env = {
        "TELEPHONIST_LAYER__BACKEND": "redis",
        "TELEPHONIST_LAYER__CONFIG": (
            f'{{"hosts": ["{redis_server.url}"], "prefix": "h{secrets.token_hex(4)}"}}'
        ),
        "TELEPHONIST_AFFINITY__HEARTBEAT_INTERVAL": str(HEARTBEAT),
        "TELEPHONIST_AFFINITY__HEARTBEAT_MISSES": str(MISSES),
        # Short: the limit on a Unix socket's path is about 100 bytes.
        "TELEPHONIST_STATUS__SOCKET_DIR": status_dir,
    }
    toml = toml_for(response_timeout=RESPONSE_TIMEOUT)
    server = RunningServer(tmp_path / "serve", toml, env=env, command="serve").ready()
    worker = RunningServer(tmp_path / "worker", toml, env=env, command="worker").ready()
    try:
        base = f"http://127.0.0.1:{server.port}"
        assert httpx.post(f"{base}/echo/split", content=b"x" * 200_000).json()["length"] == 200_000
        ws = connect(f"ws://127.0.0.1:{server.port}/ws/echo").__enter__()
        ws.send("bound")
        assert ws.recv(timeout=10) == "echo:bound"
        # Bound: a body over one chunk (64 KiB) makes several events. Single: a GET.
        bound: list[httpx.Response] = []
        single: list[tuple[httpx.Response, float]] = []

        def get_single() -> None:
            started = time.monotonic()
            response = httpx.get(f"{base}/hang", timeout=30)
            single.append((response, time.monotonic() - started))

        requests = [
            threading.Thread(
                target=lambda: bound.append(
                    httpx.post(f"{base}/hang", content=b"x" * 200_000, timeout=30)
                ),
                daemon=True,
            ),
            threading.Thread(target=get_single, daemon=True),
        ]
        for request in requests:
            request.start()
        worker.wait_for_line("hanging on /hang")
        worker.wait_for_line("hanging on /hang")
        _wait_until_bound(Path(status_dir), server.proc.pid, 2)  # the WebSocket and POST
        worker.proc.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        requests[0].join(30)
        assert bound, "no answer after the worker was killed"
        assert bound[0].status_code == 502
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1011
        # The documented bound: HEARTBEAT x MISSES after the last heartbeat heard (sent
        # before the kill), far below bind_timeout (10 s) and response_timeout (60 s);
        # plus a second for the answers to reach this test's threads on a busy machine.
        assert time.monotonic() - killed_at < HEARTBEAT * MISSES + 1.0
        assert "aborted" in server.stderr()
        requests[1].join(30)
        assert single, "no answer to the single-message request"
        response, took = single[0]
        assert response.status_code == 504
        assert RESPONSE_TIMEOUT <= took < RESPONSE_TIMEOUT + 2.0
    finally:
        worker.stop()
        server.stop()
        shutil.rmtree(status_dir, ignore_errors=True)

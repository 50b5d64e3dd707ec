"""A client leaving while its Django view runs, end to end: ``telephonist run`` (and
``serve`` + ``worker`` over Redis) with a real client on a loopback socket that sends a
request and closes. ``http.disconnect`` overtakes the connection's queue in the worker:
an async view is cancelled (``CancelledError``, then ``request_finished``), a streaming
response stops being produced (async and sync), a sync view runs to its end; the
disconnect is then delivered to the consumer once, and the worker serves the next
request. The views (``djangoapp/views.py``, "probe") record what happened as marks that
``/probe/await`` waits on, so the test waits on what the views did, not on time.

Each case runs twice: a request in one message (a single-event connection: its
disconnect comes on the shared ``http.disconnect`` channel) and one whose body streams
in several messages (a bound connection: its disconnect comes on the worker's inbox)."""

from __future__ import annotations

import json
import secrets
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from telephonist.testing.processes import wait_until
from tests.http.process import RunningServer, toml_for
from tests.servers import RedisServer

SETTINGS = "tests.http.djangoapp.settings"
BIG = 200_000  # bytes: more than body_chunk_bytes, so the body takes several messages


class Deployment:
    def __init__(self, base: str, status_dir: str, pids: list[int]) -> None:
        self.base = base
        self.status_dir = status_dir
        self.pids = pids  # the processes that run workers
        self.http = httpx.Client(base_url=base, timeout=20)

    def wait_mark(self, key: str, what: str) -> None:
        r = self.http.get("/probe/await", params={"key": key, "what": what})
        assert r.text == "yes", f"{what} never happened to {key}"

    def marks(self, key: str) -> list[str]:
        found: list[str] = self.http.get("/probe/marks", params={"key": key}).json()["marks"]
        return found

    def disconnects(self) -> int:
        return int(self.http.get("/probe/disconnects").text)

    def worker_counters(self) -> dict[str, int]:
        counters: dict[str, int] = {}
        for pid in self.pids:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(5)
                sock.connect(str(Path(self.status_dir) / f"{pid}.sock"))
                document: dict[str, Any] = json.loads(sock.makefile("rb").readline())
            for part in document["parts"]:
                if part["kind"] == "worker":
                    for name, n in part["counters"].items():
                        counters[name] = counters.get(name, 0) + n
        return counters


def _env(tmp: Path) -> tuple[dict[str, str], str]:
    status_dir = tempfile.mkdtemp(prefix="tp-status-")  # short: a Unix socket's path
    env = {
        "DJANGO_SETTINGS_MODULE": SETTINGS,
        "DJANGOAPP_DB": str(tmp / "db.sqlite3"),
        "TELEPHONIST_STATUS__SOCKET_DIR": status_dir,
    }
    return env, status_dir


@pytest.fixture(scope="module", params=["run", pytest.param("split", marks=pytest.mark.redis)])
def deployment(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    tmp = tmp_path_factory.mktemp("disconnect")
    env, status_dir = _env(tmp)
    toml = toml_for("tests.http.djangoapp.routing.routes")
    servers: list[RunningServer] = []
    try:
        if request.param == "run":
            server = RunningServer(tmp / "run", toml, env=env).ready()
            servers.append(server)
            workers = [server]
        else:
            redis: RedisServer = request.getfixturevalue("redis_server")
            env["TELEPHONIST_LAYER__BACKEND"] = "redis"
            env["TELEPHONIST_LAYER__CONFIG"] = (
                f'{{"hosts": ["{redis.url}"], "prefix": "d{secrets.token_hex(4)}"}}'
            )
            server = RunningServer(tmp / "serve", toml, env=env, command="serve").ready()
            servers.append(server)
            worker = RunningServer(tmp / "worker", toml, env=env, command="worker").ready()
            servers.append(worker)
            workers = [worker]
        deployment = Deployment(
            f"http://127.0.0.1:{server.port}", status_dir, [w.proc.pid for w in workers]
        )
        yield deployment
        deployment.http.close()
    finally:
        for s in reversed(servers):
            s.stop()


def _request(port: int, path: str, big: bool) -> socket.socket:
    """Sends the request (whole), leaves the connection open for the caller to close."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    if big:
        head = f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {BIG}\r\n\r\n"
        sock.sendall(head.encode() + b"x" * BIG)
    else:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    return sock


def _read_until(sock: socket.socket, needle: bytes) -> None:
    seen = b""
    for _ in range(1000):  # bounded: each recv blocks at most the socket's timeout
        chunk = sock.recv(65536)
        assert chunk, f"closed before {needle!r}"
        seen += chunk
        if needle in seen:
            return
    raise AssertionError(f"{needle!r} never came")


def _close(sock: socket.socket) -> None:
    # RST, not FIN: the client is simply gone (a FIN would do as well: HTTP/1.1 reads
    # an EOF as the client leaving).
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    sock.close()


def _serves_the_next_request(d: Deployment) -> None:
    r = d.http.get("/ahello")
    assert (r.status_code, r.text) == (200, "async hello")


def _delivered_once(d: Deployment, before: int) -> None:
    """The disconnect reaches the consumer after the interrupted event, once: the next
    count is there, and a later request (its own connection) finds no second one."""
    d.wait_mark("disconnects", str(before + 1))
    _serves_the_next_request(d)
    assert d.disconnects() == before + 1


def _port(d: Deployment) -> int:
    return int(d.base.rsplit(":", 1)[1])


@pytest.mark.parametrize("big", [False, True], ids=["one-message", "streamed-body"])
def test_async_view_is_cancelled_when_its_client_leaves(d_big: tuple[Deployment, bool]) -> None:
    d, big = d_big
    key = secrets.token_hex(4)
    before_count = d.disconnects()
    interrupted = d.worker_counters().get("interrupted", 0)
    sock = _request(_port(d), f"/probe/ahang?key={key}", big)
    d.wait_mark(key, "started")
    _close(sock)
    d.wait_mark(key, "cancelled")  # CancelledError where it waited, as under Django
    d.wait_mark(key, "finished")  # request_finished fired
    _delivered_once(d, before_count)
    assert d.worker_counters()["interrupted"] == interrupted + 1


@pytest.mark.parametrize("big", [False, True], ids=["one-message", "streamed-body"])
def test_async_streaming_response_stops_when_its_client_leaves(
    d_big: tuple[Deployment, bool],
) -> None:
    d, big = d_big
    key = secrets.token_hex(4)
    before_count = d.disconnects()
    sock = _request(_port(d), f"/probe/astream?key={key}", big)
    _read_until(sock, b"first;")
    d.wait_mark(key, "started")
    _close(sock)
    d.wait_mark(key, "closed")  # the generator was closed where it waited
    d.wait_mark(key, "finished")
    _delivered_once(d, before_count)


@pytest.mark.parametrize("big", [False, True], ids=["one-message", "streamed-body"])
def test_sync_streaming_response_stops_when_its_client_leaves(
    d_big: tuple[Deployment, bool],
) -> None:
    d, big = d_big
    key = secrets.token_hex(4)
    before_count = d.disconnects()
    sock = _request(_port(d), f"/probe/stream?key={key}", big)
    _read_until(sock, b"xxxx")
    d.wait_mark(key, "started")
    _close(sock)
    d.wait_mark(key, "closed")
    d.wait_mark(key, "finished")
    assert "exhausted" not in d.marks(key)  # stopped, not run to its end
    _delivered_once(d, before_count)


@pytest.mark.parametrize("big", [False, True], ids=["one-message", "streamed-body"])
def test_sync_view_runs_to_its_end_then_gets_the_disconnect_once(
    d_big: tuple[Deployment, bool],
) -> None:
    """A thread cannot be cancelled: the view returns when let go, its answer goes
    nowhere, and the disconnect is delivered after it."""
    d, big = d_big
    key = secrets.token_hex(4)
    before_count = d.disconnects()
    interrupted = d.worker_counters().get("interrupted", 0)
    sock = _request(_port(d), f"/probe/shang?key={key}", big)
    d.wait_mark(key, "started")
    _close(sock)
    # The disconnect overtook the view (the consumer was told: its answer is dropped)
    # before the view is let go.
    wait_until(
        lambda: d.worker_counters().get("interrupted", 0) > interrupted,
        timeout=10,
        what="the disconnect to reach the worker",
    )
    assert d.disconnects() == before_count  # not delivered yet: the view still runs
    assert d.http.get("/probe/go", params={"key": key}).text == "ok"
    d.wait_mark(key, "returned")
    d.wait_mark(key, "finished")
    _delivered_once(d, before_count)


@pytest.fixture
def d_big(deployment: Deployment, big: bool) -> tuple[Deployment, bool]:
    return deployment, big

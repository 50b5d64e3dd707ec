"""``telephonist run`` in a subprocess, a user's routing module, real clients: curl,
httpx, the ``websockets`` library and slowhttptest."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from telephonist.testing.processes import Process
from tests.http.process import RunningServer
from tests.servers import require_service


def test_routed_consumer_answers_httpx(web_server: RunningServer) -> None:
    body = bytes(range(256)) * 1000  # 256 KB: several chunks, collected by the consumer
    with httpx.Client(base_url=f"http://127.0.0.1:{web_server.port}") as client:
        r = client.post("/echo/upload", content=body)
        assert r.status_code == 200
        assert r.json() == {
            "method": "POST",
            "path": "/echo/upload",
            "length": len(body),
            "sha": hashlib.sha256(body).hexdigest(),
        }
        r = client.get("/stream")
        assert r.text == "chunk0;chunk1;chunk2;chunk3;chunk4;"
        assert r.headers["transfer-encoding"] == "chunked"
        r = client.get("/nowhere")
        assert r.status_code == 404  # no route: the Dispatcher's policy answers


def test_routed_consumer_answers_over_h2c(web_server: RunningServer) -> None:
    """The same routes over HTTP/2 (prior knowledge), 404 from the Dispatcher included."""
    body = bytes(range(256)) * 1000
    with httpx.Client(
        base_url=f"http://127.0.0.1:{web_server.port}", http1=False, http2=True
    ) as client:
        r = client.post("/echo/upload", content=body)
        assert r.http_version == "HTTP/2"
        assert r.json()["sha"] == hashlib.sha256(body).hexdigest()
        assert client.get("/stream").text == "chunk0;chunk1;chunk2;chunk3;chunk4;"
        assert client.get("/nowhere").status_code == 404


def test_curl_keep_alive_and_upload(web_server: RunningServer, tmp_path: Path) -> None:
    curl = shutil.which("curl")
    if curl is None:
        require_service("curl (scripts/peers/web.sh installs it)")
        return
    upload = tmp_path / "up.bin"
    upload.write_bytes(b"u" * 300_000)
    base = f"http://127.0.0.1:{web_server.port}"
    done = subprocess.run(
        [curl, "-sS", "-v", "--data-binary", f"@{upload}", f"{base}/echo/a", f"{base}/echo/b"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    answers = [json.loads(line) for line in done.stdout.replace("}{", "}\n{").splitlines()]
    assert [a["path"] for a in answers] == ["/echo/a", "/echo/b"]
    assert {a["length"] for a in answers} == {300_000}
    assert "Re-using existing connection" in done.stderr  # keep-alive held


def test_websocket_consumers(web_server: RunningServer) -> None:
    base = f"ws://127.0.0.1:{web_server.port}"
    with connect(f"{base}/ws/echo") as ws:
        ws.send("hi")
        assert ws.recv(timeout=10) == "echo:hi"
        ws.send(b"\x00\x01")
        assert ws.recv(timeout=10) == b"\x00\x01"
    with connect(f"{base}/chat/lobby") as ws:
        ws.send("hello")
        assert ws.recv(timeout=10) == "/chat/lobby: hello"
    with pytest.raises(InvalidStatus) as refused, connect(f"{base}/nowhere"):
        pass
    assert refused.value.response.status_code == 403  # no route for the handshake


def test_slowloris_with_slowhttptest(tmp_path: Path) -> None:
    """slowhttptest holds many connections sending headers slowly; the server cuts each
    one at ``header_timeout`` and keeps serving everyone else meanwhile."""
    tool = shutil.which("slowhttptest")
    if tool is None:
        require_service("slowhttptest (scripts/peers/web.sh installs it)")
        return
    from tests.http.process import toml_for

    server = RunningServer(
        tmp_path / "srv", toml_for(header_timeout=2, max_connections=100)
    ).ready()
    try:
        out = tmp_path / "slow"
        attack = Process(
            [tool, "-H", "-c", "60", "-r", "30", "-i", "1", "-l", "8", "-s", "8192",
             "-u", f"http://127.0.0.1:{server.port}/echo", "-g", "-o", str(out)],
            log=tmp_path / "slowhttptest.log",
        )  # fmt: skip
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as client:
                for _ in range(20):  # others are served while the attack runs
                    assert client.get("/echo/x").status_code == 200
            attack.wait(60)
        finally:
            attack.stop()  # a no-op once it has finished
        report = attack.output()
        rows = list(csv.DictReader((out.with_suffix(".csv")).open()))
        # The server cut every slow connection (after header_timeout) before the attack's
        # planned 8 s were over, and slowhttptest's probe always found the service up.
        assert "No open connections left" in report
        assert len(rows) < 8
        assert all(int(r["Service Available"]) > 0 for r in rows)
        assert "header_timeout" in server.stderr()
    finally:
        server.stop()

"""The examples of docs/http.md and docs/websocket.md, run as written: their files are
taken from the pages (the block after ``<!-- file: NAME -->``), ``telephonist run``
serves them, and the commands' clients check the answers shown. Only the port is
overridden (``-s``), so parallel runs do not collide."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from tests.http.process import ROOT, RunningServer

FREE_PORT = '-s=interfaces.http.endpoints=["tcp:port=0:interface=127.0.0.1"]'


def files_of(page: str) -> dict[str, str]:
    text = (ROOT / "docs" / page).read_text()
    blocks = re.findall(r"<!-- file: (\S+) -->\n```\w*\n(.*?)```", text, re.S)
    assert blocks, f"no file blocks in {page}"
    return dict(blocks)


def start(page: str, directory: Path) -> RunningServer:
    files = files_of(page)
    toml = files.pop("telephonist.toml")
    for name, text in files.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(text)
    server = RunningServer(directory, toml, FREE_PORT)
    # The example's module lives in the project directory, as a user's would.
    return server.ready()


def test_http_quick_start(tmp_path: Path) -> None:
    server = start("http.md", tmp_path)
    try:
        base = f"http://127.0.0.1:{server.port}"
        curl = shutil.which("curl")
        if curl is not None:
            out = subprocess.run(
                [curl, "-sS", f"{base}/hello?ada"], capture_output=True, text=True, timeout=20
            )
            assert out.stdout == "hello ada\n"
            out = subprocess.run(
                [curl, "-sS", "--http2-prior-knowledge", f"{base}/hello?ada"],
                capture_output=True,
                text=True,
                timeout=20,
            )
            assert out.stdout == "hello ada\n"  # the HTTP/2 section's example
        else:
            assert httpx.get(f"{base}/hello?ada").text == "hello ada\n"
        r = httpx.get(f"{base}/nothing-here")
        assert r.status_code == 404
    finally:
        server.stop()


def test_websocket_quick_start(tmp_path: Path) -> None:
    server = start("websocket.md", tmp_path)
    try:
        with connect(f"ws://127.0.0.1:{server.port}/echo") as ws:
            ws.send("hello")
            assert ws.recv(timeout=10) == "HELLO"
    finally:
        server.stop()


@pytest.mark.parametrize("page", ["http.md", "websocket.md"])
def test_every_setting_is_documented(page: str) -> None:
    from telephonist.interfaces.http.config import Http2Config, HttpConfig
    from telephonist.interfaces.websocket.config import WebSocketConfig

    models = [HttpConfig, Http2Config] if page == "http.md" else [WebSocketConfig]
    text = (ROOT / "docs" / page).read_text()
    for model in models:
        for name in model.model_fields:
            assert f"| `{name}` |" in text, f"{name} missing from docs/{page}"

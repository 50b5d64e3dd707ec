"""Paths another interface serves on the HTTP port: ``telephonist.interfaces.mounts``.

A mounted ASGI app answers in-process, through the same checks, limits and response
handling as a consumer; nothing of its requests reaches the layer. The rest of the
port is served as before.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from telephonist.interfaces.mounts import Mounts, mount, mounted_paths, unmount
from tests.http.harness import port_of, serve
from tests.http.process import ROOT


async def echo(first: dict[str, Any], receive: Any, send: Any) -> None:
    """The consumer behind the layer: answers ``METHOD PATH`` for what is not mounted."""
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send(
        {"type": "http.response.body", "body": f"{first['method']} {first['path']}".encode()}
    )


class Recorder:
    """An ASGI app that records what it saw and answers with the body's length."""

    def __init__(self) -> None:
        self.scopes: list[dict[str, Any]] = []
        self.after: list[dict[str, Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.scopes.append(scope)
        body, chunks = b"", 0
        while True:
            message = await receive()
            assert message["type"] == "http.request"
            body += message["body"]
            chunks += 1
            if not message["more_body"]:
                break
        await send({"type": "http.response.start", "status": 201, "headers": [(b"x-app", b"1")]})
        await send({"type": "http.response.body", "body": f"{len(body)} {chunks}".encode()})
        # After a complete response, receive() reports the end of the exchange.
        self.after.append(await receive())


@pytest.fixture
def mounted() -> Iterator[tuple[Recorder, Recorder]]:
    exact, subtree = Recorder(), Recorder()
    mount("/hooks/events", exact)
    mount("/app/", subtree)
    try:
        yield exact, subtree
    finally:
        unmount("/hooks/events", exact)
        unmount("/app/", subtree)


async def test_mounted_paths_are_served_in_process(
    mounted: tuple[Recorder, Recorder],
) -> None:
    exact, subtree = mounted
    async with serve(echo, body_chunk_bytes=1024) as (iface, probe, runner):
        assert iface.status()["mounted_paths"] == ["/app/", "/hooks/events"]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port_of(iface)}") as client:
            r = await client.post("/hooks/events?x=1", content=b"e" * 5000)
            assert (r.status_code, r.text, r.headers["x-app"]) == (201, "5000 5", "1")
            r = await client.get("/app/deep/page")
            assert (r.status_code, r.text) == (201, "0 1")
            # Exact mounts are exact; everything else still goes to the layer.
            r = await client.get("/hooks/events/more")
            assert r.text == "GET /hooks/events/more"
            r = await client.head("/hooks/events")
            assert (r.status_code, r.content) == (201, b"")
        scope = exact.scopes[0]
        assert scope["type"] == "http"
        assert scope["asgi"]["version"] == "3.0"
        assert (scope["method"], scope["path"], scope["query_string"]) == (
            "POST",
            "/hooks/events",
            b"x=1",
        )
        assert scope["client"][0] == "127.0.0.1"
        assert [b"content-length", b"5000"] in scope["headers"]
        assert subtree.scopes[0]["path"] == "/app/deep/page"
        assert [m["type"] for m in exact.after] == ["http.disconnect"] * 2
        # The layer saw only the one request that was not mounted.
        assert [m["path"] for m in runner.received] == ["/hooks/events/more"]
        assert probe.counts["bad_reply"] == 0


async def test_mounted_app_failures_get_http_answers() -> None:
    cancelled = asyncio.Event()

    async def boom(scope: dict[str, Any], receive: Any, send: Any) -> None:
        raise RuntimeError("app bug")

    async def silent(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()  # and returns without a response

    async def stuck(scope: dict[str, Any], receive: Any, send: Any) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    async def bad(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 99})

    apps = {"/boom": boom, "/silent": silent, "/stuck": stuck, "/bad": bad}
    for path, app in apps.items():
        mount(path, app)
    try:
        async with (
            serve(echo, response_timeout=0.5, max_body_bytes=100, run_worker=False) as (
                iface,
                probe,
                _runner,
            ),
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port_of(iface)}") as c,
        ):
            assert (await c.get("/boom")).status_code == 500
            await probe.counted("app_error")
            assert (await c.get("/silent")).status_code == 500
            assert (await c.get("/bad")).status_code == 500
            assert probe.counts["bad_reply"] == 2
            assert (await c.get("/stuck")).status_code == 504
            await asyncio.wait_for(cancelled.wait(), 5)
            assert probe.counts["response_timeout"] == 1
            r = await c.post("/boom", content=b"x" * 101)
            assert r.status_code == 413  # refused before the app runs
            assert probe.counts["app_error"] == 1
    finally:
        for path, app in apps.items():
            unmount(path, app)


async def test_client_leaving_ends_the_app() -> None:
    started, ended = asyncio.Event(), asyncio.Event()

    async def waits(scope: dict[str, Any], receive: Any, send: Any) -> None:
        try:
            await receive()
            started.set()
            message = await receive()  # the client goes away meanwhile
            assert message["type"] == "http.disconnect"
        finally:
            ended.set()

    mount("/wait", waits)
    try:
        async with serve(echo) as (iface, _probe, _runner):
            port = port_of(iface)
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /wait HTTP/1.1\r\nhost: x\r\n\r\n")
            await writer.drain()
            await asyncio.wait_for(started.wait(), 5)
            writer.transport.abort()
            await asyncio.wait_for(ended.wait(), 5)
            # The port keeps serving.
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(b"GET /x HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
                assert await asyncio.to_thread(sock.recv, 100) != b""
    finally:
        unmount("/wait", waits)


def test_mount_table_rules() -> None:
    async def a(scope: Any, receive: Any, send: Any) -> None: ...

    async def b(scope: Any, receive: Any, send: Any) -> None: ...

    table = Mounts()
    table.mount("/slack/events", a)
    table.mount("/slack/events", a)  # the same app again: nothing changes
    with pytest.raises(ValueError, match="already mounted"):
        table.mount("/slack/events", b)
    for bad_path in ("slack", "/a?b", "/a b", "/é"):
        with pytest.raises(ValueError, match="ASCII path"):
            table.mount(bad_path, a)
    table.mount("/", b)
    table.mount("/slack/", b)
    assert table.find(b"/slack/events") is a  # exact beats prefix
    assert table.find(b"/slack/events/x") is b
    assert table.find(b"/other") is b
    table.unmount("/slack/events", b)  # not its holder: stays
    assert table.find(b"/slack/events") is a
    table.unmount("/slack/events")
    table.unmount("/slack/")
    table.unmount("/")
    assert table.find(b"/slack/events") is None
    assert table.paths() == []
    assert mounted_paths() == []  # the process table is left as the tests found it


async def test_the_docs_example() -> None:
    """The example of docs/http.md ("Paths served by other interfaces"), run as written."""
    text = (ROOT / "docs" / "http.md").read_text()
    block = re.search(r"<!-- example: mount -->\n```python\n(.*?)```", text, re.S)
    assert block is not None
    namespace: dict[str, Any] = {}
    exec(compile(block.group(1), "docs/http.md", "exec"), namespace)
    try:
        async with serve(echo) as (iface, _probe, runner):
            url = f"http://127.0.0.1:{port_of(iface)}/hooks/hello"
            async with httpx.AsyncClient() as client:
                r = await client.post(url, content=b"abc")
            assert (r.status_code, r.text) == (200, "hello 3\n")
            assert runner.received == []
    finally:
        unmount("/hooks/hello", namespace["hello"])

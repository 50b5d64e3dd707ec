"""Small ASGI-style apps the protocol tests run in ``harness.AsgiWorker``."""

from __future__ import annotations

import asyncio
import json
from typing import Any

Receive = Any
Send = Any


async def read_body(first: dict[str, Any], receive: Receive) -> tuple[bytes, list[int]]:
    """The whole body and the size of each chunk it came in."""
    message = await receive()
    sizes = [len(message["body"])]
    body = message["body"]
    while message.get("more_body"):
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionError("client went away")
        sizes.append(len(message["body"]))
        body += message["body"]
    return body, sizes


async def respond(
    send: Send, status: int, body: bytes, headers: list[list[bytes]] | None = None
) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers or []})
    await send({"type": "http.response.body", "body": body})


async def echo(first: dict[str, Any], receive: Receive, send: Send) -> None:
    """Answers with the request's scope (JSON) and body facts."""
    body, sizes = await read_body(first, receive)
    scope = {
        k: (v.decode("latin-1") if isinstance(v, bytes) else v)
        for k, v in first.items()
        if k not in ("body", "headers")
    }
    scope["headers"] = [[n.decode(), v.decode("latin-1")] for n, v in first["headers"]]
    scope["body_len"] = len(body)
    scope["chunks"] = sizes
    scope["body_sample"] = body[:32].decode("latin-1")
    await respond(send, 200, json.dumps(scope).encode(), [[b"content-type", b"application/json"]])


async def stream(first: dict[str, Any], receive: Receive, send: Send) -> None:
    """``/stream?n=K``: K chunks without a Content-Length (chunked on HTTP/1.1)."""
    await read_body(first, receive)
    n = int(first["query_string"].decode().partition("=")[2] or 3)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    for i in range(n):
        await send({"type": "http.response.body", "body": f"part{i};".encode(), "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


class Recorder:
    """An app whose behaviour each test sets; records every message it saw."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.disconnected = asyncio.Event()
        self.started = asyncio.Event()

    async def never_answer(self, first: dict[str, Any], receive: Receive, send: Send) -> None:
        if first["path"] == "/other":  # other clients are served
            await respond(send, 200, b"ok")
            return
        self.started.set()
        while True:
            message = await receive()
            self.seen.append(message)
            if message["type"] == "http.disconnect":
                self.disconnected.set()
                return

    async def slow_stream(self, first: dict[str, Any], receive: Receive, send: Send) -> None:
        """Starts a streamed response, then waits for the client to go away."""
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        self.started.set()
        while True:
            message = await receive()
            self.seen.append(message)
            if message["type"] == "http.disconnect":
                self.disconnected.set()
                return

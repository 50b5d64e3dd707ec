"""The Slack interface's pages on the HTTP port, as ASGI 3 applications.

The HTTP interface serves paths other interfaces mount (``interfaces/mounts.py``):
``SlackInterface.start()`` mounts :func:`events_app` at ``events_path`` (and the OAuth
pages, ``oauth.py``, when OAuth is configured), ``stop()`` unmounts them. Each app is a
thin adapter: it reads the request, hands it to code with no I/O of its own
(:meth:`SlackInterface.handle_http` for the Events API) and writes the
:class:`~.events_api.HttpAnswer` back.

The body is read up to ``limit`` bytes: a declared ``Content-Length`` above it is
answered 413 before a byte of the body is read, and a body that grows past it while
streaming is cut off with a 413 too (the HTTP interface closes the connection after a
response to a request whose body was not read to the end). The HTTP interface has
already applied its own limits and timeouts (head size, ``max_body_bytes``,
``body_timeout``); these are Slack's, smaller.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from .events_api import HttpAnswer

__all__ = [
    "Receive",
    "Scope",
    "Send",
    "TooLarge",
    "events_app",
    "header_map",
    "read_body",
    "send_answer",
]

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Handler = Callable[[str, Mapping[str, str], bytes], Awaitable[HttpAnswer]]


class TooLarge(Exception):
    """The body is over the limit."""


def header_map(scope: Scope) -> dict[str, str]:
    """The request's headers, names lower-cased (a repeated header: the last one)."""
    return {bytes(k).decode("latin-1").lower(): bytes(v).decode("latin-1")
            for k, v in scope.get("headers", ())}  # fmt: skip


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes | None:
    """The whole body; ``None`` if the client went away first. :class:`TooLarge` when
    it is over ``limit`` bytes, declared or sent."""
    declared = header_map(scope).get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None  # http.disconnect: nobody to answer
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def send_answer(send: Send, answer: HttpAnswer) -> None:
    headers = [(b"content-type", answer.content_type.encode("latin-1"))]
    headers += [(k.lower().encode("latin-1"), v.encode("latin-1"))
                for k, v in answer.headers.items()]  # fmt: skip
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body})


def events_app(handle: Handler, limit: int, count: Callable[[str], None]) -> Any:
    """The Events API endpoint: one request to ``handle`` (``SlackInterface.handle_http``),
    its answer back. ``count`` counts a body refused here for its size."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        method = str(scope.get("method", "GET"))
        body = b""
        if method == "POST":
            try:
                read = await read_body(scope, receive, limit)
            except TooLarge:
                count("refused_too_large")
                await send_answer(send, HttpAnswer(413, b"payload too large"))
                return
            if read is None:
                return  # the client left: nothing to answer
            body = read
        await send_answer(send, await handle(method, header_map(scope), body))

    return app

"""Serving one HTTP/2 stream: the HTTP/1.1 request loop's steps 2-4 (``protocol.py``), for
one stream.

The stream arrives with its head parsed and checked by the connection (``problem`` is
the answer a check gave: 431, 413, 400). From there it is an HTTP/1.1 request in all
that a consumer can see: the same scope (``http_version`` ``"2"``), the same
``http.request`` messages and chunking, single-event sends for a body that came whole,
the same answers (503 for a full channel or a layer out, 413/431 for a message too
large, 504 for no response in time, 408 for a stalled body), ``http.disconnect`` when
the client goes before the response ended, one reply channel per stream, the same
mounted paths and the same access log line: the intake (``intake.py``) is HTTP/1.1's.
"""

from __future__ import annotations

from ...spec.http import (
    REQUEST,
    TRAILERS_EXTENSION,
    HTTPRequestEvent,
    HTTPScope,
)
from .asgi import serve_app
from .h2_stream import H2Stream
from .intake import deliver, retire
from .reader import BodyError, Closed
from .scope import Endpoint, split_target, www_scope
from .state import ServerState

__all__ = ["serve_stream"]


async def serve_stream(
    state: ServerState,
    endpoint: Endpoint,
    stream: H2Stream,
    headers: list[tuple[bytes, bytes]],
    problem: tuple[int, str, str] | None,
) -> None:
    peer = endpoint.peer_host
    try:
        if problem is not None:
            state.violation(problem[1], problem[2], peer)
            stream.fail(problem[0])
            return
        cfg = state.config
        request = stream.request
        scope = www_scope(
            kind="http",
            method=request.method,
            target=request.target,
            http_version=request.http_version,
            headers=headers,
            endpoint=endpoint,
            forwarded=state.proxies.forwarded(peer, headers),
            root_path=cfg.root_path,
        )
        scope["extensions"] = {TRAILERS_EXTENSION: {}}
        client = scope["client"]
        stream.client = client[0] if client else "unix"
        app = state.mounts.find(split_target(request.target)[0]) if state.mounts.table else None
        if app is not None:
            await serve_app(
                app,
                scope,
                stream,
                stream.read_more,
                violation=lambda counter, reason: state.violation(counter, reason, peer),
                response_timeout=cfg.response_timeout,
            )
        else:
            stream.reply_channel = await state.host.open_reply_channel(
                stream.on_reply, prefix="http"
            )
            try:
                await _deliver(state, stream, scope, headers, peer)
            except BodyError as exc:
                state.violation(exc.counter, exc.reason, peer)
                stream.fail(exc.status)
            except Closed:
                pass
        await stream.done
    finally:
        await retire(state, stream, peer)


async def _deliver(
    state: ServerState,
    stream: H2Stream,
    scope: HTTPScope,
    headers: list[tuple[bytes, bytes]],
    peer: str | None,
) -> None:
    length = next((v for n, v in headers if n == b"content-length"), None)
    small = length is not None and length.isdigit() and int(length) <= state.config.body_chunk_bytes
    # As on HTTP/1.1: a small declared body (or one already ended) goes in the first
    # message; a bigger one starts with what is here.
    body, done = await stream.read_body(wait_full=small or stream.ended, wait_any=False)
    message: HTTPRequestEvent = {"type": REQUEST, **scope, "body": body, "more_body": not done}
    await deliver(state, stream, message, stream.read_more, peer)

"""The ASGI 3 ``www`` connection scope: the keys HTTP and WebSocket connections share.

``telephonist.spec.http`` and ``telephonist.spec.websocket`` build on it. All values
are msgpack-safe, so a scope crosses any channel layer as it is.
"""

from __future__ import annotations

from typing import TypedDict

__all__ = ["WwwScope"]


class WwwScope(TypedDict):
    """The ASGI 3 connection-scope keys every ``www`` connection has (HTTP adds
    ``method``, WebSocket nothing); all values msgpack-safe."""

    http_version: str  # "1.0", "1.1"
    scheme: str  # "http"/"https", "ws"/"wss"
    path: str  # percent-decoded, root_path included
    raw_path: bytes  # as sent, root_path included
    query_string: bytes  # after "?", not decoded
    root_path: str  # "" by default
    headers: list[list[bytes]]  # [[lower-cased name, value], ...] in order received
    client: list[str | int] | None  # [host, port]; None on a Unix socket
    server: list[str | int | None]  # [host, port], or [socket path, None]

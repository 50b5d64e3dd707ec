"""From a parsed request to the ASGI 3 ``www`` keys of ``http.request`` and
``websocket.connect`` messages.

Pure functions: they take what the connection knows (the h11 request, the peer and
local addresses, TLS or not, trusted-proxy findings) and return msgpack-safe dicts, so
the mapping is tested without sockets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, overload
from urllib.parse import unquote

from ...spec.http import HTTPScope
from ...spec.websocket import WebSocketScope
from .proxy import Forwarded

__all__ = ["Endpoint", "split_target", "www_scope"]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """The two ends of a connection as the transport reports them. For a Unix socket
    ``peer_host`` is ``None`` and ``local_host`` is the socket path."""

    peer_host: str | None
    peer_port: int | None
    local_host: str
    local_port: int | None
    tls: bool

    @property
    def client(self) -> list[str | int] | None:
        # Both None on a Unix socket; both set on TCP.
        if self.peer_host is None or self.peer_port is None:
            return None
        return [self.peer_host, self.peer_port]

    @property
    def server(self) -> list[str | int | None]:
        return [self.local_host, self.local_port]


def split_target(target: bytes) -> tuple[bytes, bytes]:
    """``(raw_path, query_string)`` of a request target in origin, absolute or
    asterisk form. h11 has checked the target is visible ASCII."""
    if not target.startswith(b"/") and b"://" in target:
        # Absolute form (RFC 9112 3.2.2): keep only the path and query.
        rest = target.split(b"://", 1)[1]
        cut = min(i for i in (rest.find(b"/"), rest.find(b"?"), len(rest)) if i >= 0)
        target = rest[cut:]
        if not target.startswith(b"/"):
            target = b"/" + target
    path, _, query = target.partition(b"?")
    return path.partition(b"#")[0], query.partition(b"#")[0]


@overload
def www_scope(
    *,
    kind: Literal["http"],
    method: bytes,
    target: bytes,
    http_version: bytes,
    headers: list[tuple[bytes, bytes]],
    endpoint: Endpoint,
    forwarded: Forwarded,
    root_path: str,
) -> HTTPScope: ...


@overload
def www_scope(
    *,
    kind: Literal["websocket"],
    method: bytes,
    target: bytes,
    http_version: bytes,
    headers: list[tuple[bytes, bytes]],
    endpoint: Endpoint,
    forwarded: Forwarded,
    root_path: str,
) -> WebSocketScope: ...


def www_scope(
    *,
    kind: Literal["http", "websocket"],
    method: bytes,
    target: bytes,
    http_version: bytes,
    headers: list[tuple[bytes, bytes]],
    endpoint: Endpoint,
    forwarded: Forwarded,
    root_path: str,
) -> HTTPScope | WebSocketScope:
    """The scope keys of an ``http`` (``kind="http"``) or ``websocket`` request.

    ``path`` and ``raw_path`` are full paths, ``root_path`` included, as the ASGI spec
    asks since 2.x (``root_path`` is the prefix a proxy in front stripped).
    """
    raw_path, query_string = split_target(target)
    prefix = forwarded.prefix if forwarded.prefix is not None else root_path
    # The proxy in front strips the prefix; the application sees it put back, as
    # uvicorn does, so Django's script_name/path_info split works unchanged.
    path = prefix + unquote(raw_path.decode("ascii"))
    raw_path = prefix.encode("utf-8") + raw_path
    tls_scheme = "https" if endpoint.tls else "http"
    scheme = forwarded.scheme or tls_scheme
    if kind == "websocket":
        scheme = {"http": "ws", "https": "wss"}.get(scheme, scheme)
    elif scheme in ("ws", "wss"):
        scheme = "http" if scheme == "ws" else "https"
    client = endpoint.client
    if forwarded.client is not None:
        client = [forwarded.client, 0]
    if forwarded.host is not None:
        headers = [(n, forwarded.host if n == b"host" else v) for n, v in headers]
    if kind == "http":
        return {
            "http_version": http_version.decode("ascii"),
            "scheme": scheme,
            "path": path,
            "raw_path": raw_path,
            "query_string": query_string,
            "root_path": prefix,
            "headers": [[name, value] for name, value in headers],
            "client": client,
            "server": endpoint.server,
            "method": method.decode("ascii").upper(),
        }
    return {
        "http_version": http_version.decode("ascii"),
        "scheme": scheme,
        "path": path,
        "raw_path": raw_path,
        "query_string": query_string,
        "root_path": prefix,
        "headers": [[name, value] for name, value in headers],
        "client": client,
        "server": endpoint.server,
    }

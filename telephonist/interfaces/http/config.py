"""Settings of the ``http`` interface (HTTP/1.1 and the WebSocket upgrade on one port).

Every input the server reads has a limit here with a bounded default, so a missing
setting can never mean "unlimited". Each field documents the protocol answer a
violation gets; ``docs/http.md`` and ``docs/websocket.md`` list the same table.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from ..base import InterfaceConfig
from ..websocket.config import WebSocketConfig
from .proxy import parse_trusted

__all__ = ["HttpConfig"]

KIB = 1024
MIB = 1024 * KIB


class HttpConfig(InterfaceConfig):
    """``[interfaces.http]`` settings."""

    #: Twisted endpoint strings: ``tcp:8000:interface=127.0.0.1``,
    #: ``unix:/run/app.sock``, ``ssl:8443:privateKey=key.pem:certKey=cert.pem``.
    endpoints: list[str] = Field(
        default_factory=lambda: ["tcp:port=8000:interface=127.0.0.1"], min_length=1
    )
    #: Prefix the application is mounted at behind a proxy that strips it (ASGI root_path).
    root_path: str = ""
    #: Peers whose X-Forwarded-For/-Proto/-Host/-Prefix headers are believed: CIDRs
    #: (``"10.0.0.0/8"``, ``"::1"``) or ``"unix"`` for Unix-socket peers. Empty: nobody.
    trusted_proxies: list[str] = Field(default_factory=list, max_length=1000)
    #: One log line per request on logger ``telephonist.access.http``.
    access_log: bool = True
    #: Open connections (HTTP and WebSocket) at once; more are answered 503 and closed.
    max_connections: int = Field(default=10_000, ge=1, le=1_000_000)
    #: Request line plus headers, in bytes; more is answered 431.
    max_header_bytes: int = Field(default=16 * KIB, ge=256, le=1 * MIB)
    #: Number of header lines; more is answered 431.
    max_header_count: int = Field(default=100, ge=4, le=10_000)
    #: Request body, in bytes (declared or streamed); more is answered 413.
    max_body_bytes: int = Field(default=10 * MIB, ge=0, le=64 * 1024 * MIB)
    #: Largest ``body`` of one ``http.request`` message; bodies stream in such chunks.
    body_chunk_bytes: int = Field(default=64 * KIB, ge=1 * KIB, le=512 * KIB)
    #: Seconds from the first byte of a request to the end of its headers; then 408.
    header_timeout: float = Field(default=10.0, gt=0, le=3600)
    #: Seconds an idle keep-alive connection is kept open waiting for the next request.
    keepalive_timeout: float = Field(default=5.0, gt=0, le=3600)
    #: Seconds without any body bytes while a body is expected; then 408 and close.
    body_timeout: float = Field(default=30.0, gt=0, le=3600)
    #: Seconds the consumer has to start its response (``http.response.start`` and a
    #: first ``http.response.body``); then 504.
    response_timeout: float = Field(default=60.0, gt=0, le=86_400)
    #: ``Retry-After`` seconds sent with the 503 that answers a full channel.
    retry_after: int = Field(default=5, ge=0, le=86_400)
    #: Seconds a client may leave the server's send buffer full without reading (slow
    #: read); then the connection is aborted. Until then replies wait on the layer.
    write_timeout: float = Field(default=60.0, gt=0, le=3600)
    websocket: WebSocketConfig = Field(default_factory=lambda: WebSocketConfig())

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        parse_trusted(value)  # raises ValueError naming the bad entry
        return value

    @field_validator("root_path")
    @classmethod
    def _check_root_path(cls, value: str) -> str:
        if value and (not value.startswith("/") or value.endswith("/")):
            raise ValueError("root_path must start with '/' and not end with '/' (or be empty)")
        return value

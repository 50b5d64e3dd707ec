"""Settings of the ``http`` interface (HTTP/1.1 and the WebSocket upgrade on one port).

Every input the server reads has a limit here with a bounded default, so a missing
setting can never mean "unlimited". Each field documents the protocol answer a
violation gets; ``docs/http.md`` and ``docs/websocket.md`` list the same table.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..base import InterfaceConfig
from ..websocket.config import WebSocketConfig
from .proxy import parse_trusted

__all__ = ["Http2Config", "HttpConfig"]

KIB = 1024
MIB = 1024 * KIB


class Http2Config(BaseModel):
    """HTTP/2 on the same endpoints (``[interfaces.http.http2]``): ALPN ``h2`` on TLS
    endpoints, h2c by prior knowledge on the others. The request limits of HTTP/1.1
    (header and body size, timeouts) apply to each stream as they are; these are the
    connection's own. Floods get GOAWAY ``ENHANCE_YOUR_CALM`` (``h2_guard.py``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Serve HTTP/2 (ALPN ``h2``, h2c by prior knowledge); off: HTTP/1.1 only.
    enabled: bool = True
    #: Streams open at once per connection (SETTINGS_MAX_CONCURRENT_STREAMS); a client
    #: that opens more gets GOAWAY ``PROTOCOL_ERROR``.
    max_concurrent_streams: int = Field(default=100, ge=1, le=10_000)
    #: Receive window of each stream: request body bytes the client may send ahead of
    #: the consumer (SETTINGS_INITIAL_WINDOW_SIZE). More is GOAWAY ``FLOW_CONTROL_ERROR``.
    stream_window_bytes: int = Field(default=64 * KIB, ge=1 * KIB, le=16 * MIB)
    #: Receive window of the connection (all its streams together).
    connection_window_bytes: int = Field(default=1 * MIB, ge=64 * KIB, le=256 * MIB)
    #: Compressed bytes of one header block (HEADERS plus its CONTINUATION frames).
    max_header_block_bytes: int = Field(default=32 * KIB, ge=1 * KIB, le=1 * MIB)
    #: CONTINUATION frames after one HEADERS frame (CVE-2024-27316).
    max_continuation_frames: int = Field(default=16, ge=0, le=1000)
    #: Each ``*_burst`` frames may come at once, and as many per ``flood_window`` seconds.
    #: RST_STREAM from the client (Rapid Reset, CVE-2023-44487).
    resets_burst: int = Field(default=100, ge=1, le=1_000_000)
    #: PING frames (CVE-2019-9512).
    pings_burst: int = Field(default=50, ge=1, le=1_000_000)
    #: SETTINGS frames (CVE-2019-9515).
    settings_burst: int = Field(default=50, ge=1, le=1_000_000)
    #: PRIORITY frames (CVE-2019-9513).
    priority_burst: int = Field(default=500, ge=1, le=1_000_000)
    #: DATA frames with no data that do not end their stream (CVE-2019-9518).
    empty_data_burst: int = Field(default=100, ge=1, le=1_000_000)
    #: Seconds: the window of the ``*_burst`` limits (each refills over it).
    flood_window: float = Field(default=10.0, gt=0, le=3600)
    #: Seconds an idle connection (no stream open) is kept; then GOAWAY ``NO_ERROR``.
    idle_timeout: float = Field(default=60.0, gt=0, le=86_400)


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
    #: Bytes per second a body must average, counting only the time the server waits
    #: for it, after a grace of ``body_timeout`` seconds: the total bound on a body that
    #: drips in just fast enough to beat ``body_timeout``. Then 408 and close.
    body_min_rate: int = Field(default=1024, ge=1, le=1 * 1024 * MIB)
    #: Seconds the consumer has to start its response (``http.response.start`` and a
    #: first ``http.response.body``); then 504.
    response_timeout: float = Field(default=60.0, gt=0, le=86_400)
    #: ``Retry-After`` seconds sent with the 503 that answers a full channel.
    retry_after: int = Field(default=5, ge=0, le=86_400)
    #: Seconds a client may leave the server's send buffer full without reading (slow
    #: read); then the connection is aborted. Until then replies wait on the layer.
    write_timeout: float = Field(default=60.0, gt=0, le=3600)
    #: The WebSocket upgrade on this port: ``[interfaces.http.websocket]`` (docs/websocket.md).
    websocket: WebSocketConfig = Field(default_factory=lambda: WebSocketConfig())
    #: HTTP/2 on the same endpoints: ``[interfaces.http.http2]`` (docs/http.md).
    http2: Http2Config = Field(default_factory=lambda: Http2Config())

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

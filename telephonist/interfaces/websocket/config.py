"""Settings of the WebSocket side of the ``http`` interface (``[interfaces.http.websocket]``).

WebSockets arrive through the HTTP upgrade on the HTTP interface's own port, so these
settings live inside ``HttpConfig.websocket``; each limit names the close code or HTTP
status its violation gets.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["WebSocketConfig"]

KIB = 1024
MIB = 1024 * KIB


class WebSocketConfig(BaseModel):
    """The WebSocket side of the ``http`` interface (``[interfaces.http.websocket]``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Serve the upgrade (off: ``Upgrade`` requests are plain HTTP requests).
    enabled: bool = True
    #: Origins allowed to open a WebSocket (glob patterns on the full origin, such as
    #: ``"https://*.example.com"``). ``["*"]`` allows every origin. Others get 403.
    #: In a Django project the default is ``[]`` with ``allowed_hosts`` set from
    #: ``ALLOWED_HOSTS`` (``telephonist.django.settings``).
    allowed_origins: list[str] = Field(default_factory=lambda: ["*"], max_length=1000)
    #: Host patterns as in Django's ``ALLOWED_HOSTS`` (``example.com``,
    #: ``.example.com`` for subdomains too, ``*``): an origin whose host matches, on
    #: any scheme and port, is allowed as well (``origin.py``).
    allowed_hosts: list[str] = Field(default_factory=list, max_length=1000)
    #: Whether a handshake without an ``Origin`` header (non-browser clients) is allowed.
    allow_missing_origin: bool = True
    #: Seconds the held handshake waits for ``websocket.accept``/``close``; then HTTP 504.
    handshake_timeout: float = Field(default=10.0, gt=0, le=3600)
    #: Largest frame payload; a bigger one closes the connection with 1009.
    max_frame_bytes: int = Field(default=512 * KIB, ge=125, le=64 * MIB)
    #: Largest message (all fragments); a bigger one closes the connection with 1009.
    max_message_bytes: int = Field(default=512 * KIB, ge=125, le=64 * MIB)
    #: Seconds between server pings; 0 turns keepalive pings off.
    ping_interval: float = Field(default=20.0, ge=0, le=3600)
    #: Seconds to wait for the pong before dropping the connection.
    ping_timeout: float = Field(default=20.0, gt=0, le=3600)
    #: Seconds to wait for the peer's close frame after ours before dropping the socket.
    close_timeout: float = Field(default=5.0, gt=0, le=600)
    #: Longest ``text`` (characters) a client of the chat JSON protocol may send; longer
    #: gets an ``error`` frame (``too_large``). Told to pages in the ``hello`` frame.
    chat_max_text: int = Field(default=4000, ge=1, le=1_000_000)
    #: Received messages of one connection waiting to go onto the layer; beyond it the
    #: server stops reading that socket until the queue drains (TCP backpressure).
    max_pending_messages: int = Field(default=32, ge=1, le=10_000)

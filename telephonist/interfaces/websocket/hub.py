"""The WebSocket side of the ``http`` interface: Autobahn's factory configured from
``WebSocketConfig``, the upgrade hand-over, and the set of live sockets for shutdown."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import h11
from autobahn.twisted.websocket import WebSocketServerFactory

from ..base import InterfaceHost
from .config import WebSocketConfig
from .origin import OriginPolicy
from .protocol import ServerWebSocket

if TYPE_CHECKING:
    from ..http.protocol import HttpProtocol
    from ..http.server import HttpServer

__all__ = ["WebSocketHub"]

_Factory: Any = WebSocketServerFactory  # partially annotated upstream: used untyped


class WebSocketHub:
    """Creates a ``ServerWebSocket`` per upgraded connection and tracks them."""

    def __init__(self, config: WebSocketConfig, server: HttpServer) -> None:
        self.config = config
        self.server = server
        self.host: InterfaceHost = server.host
        self.retry_after = server.config.retry_after
        self.origins = OriginPolicy(config.allowed_origins, config.allow_missing_origin)
        self.sockets: set[ServerWebSocket] = set()
        self.pending: set[ServerWebSocket] = set()
        self._gone: dict[ServerWebSocket, asyncio.Future[None]] = {}
        factory: Any = _Factory()
        factory.protocol = ServerWebSocket
        factory.setProtocolOptions(
            maxFramePayloadSize=config.max_frame_bytes,
            maxMessagePayloadSize=config.max_message_bytes,
            autoPingInterval=config.ping_interval or None,
            autoPingTimeout=config.ping_timeout if config.ping_interval else None,
            closeHandshakeTimeout=config.close_timeout,
            # The held handshake has its own timeout (504); Autobahn's would only drop.
            openHandshakeTimeout=0,
            # Send the close frame (1009, ...) instead of dropping TCP silently.
            failByDrop=False,
            # Origins are checked in onConnect to answer 403 and count it.
            allowedOrigins=["*"],
            webStatus=False,
        )
        self.factory: Any = factory

    def upgrade(
        self, http: HttpProtocol, head: bytes, rest: bytes, request: h11.Request
    ) -> ServerWebSocket:
        """Hand ``http``'s transport to a new WebSocket protocol, replaying the head."""
        proto: ServerWebSocket = self.factory.buildProtocol(None)
        proto.hub = self
        proto.scope = self.server.scope_for("websocket", request, http.endpoint)
        self.pending.add(proto)
        self._gone[proto] = asyncio.get_running_loop().create_future()
        proto.makeConnection(http.transport)
        proto.dataReceived(head + rest)
        return proto

    def opened(self, proto: ServerWebSocket) -> None:
        self.pending.discard(proto)
        self.sockets.add(proto)

    def closed(self, proto: ServerWebSocket) -> None:
        self.pending.discard(proto)
        self.sockets.discard(proto)
        gone = self._gone.pop(proto, None)
        if gone is not None and not gone.done():
            gone.set_result(None)

    def violation(self, counter: str, reason: str) -> None:
        self.server.violation(counter, reason)

    async def close_all(self, code: int, within: float) -> None:
        """Say goodbye to every socket (``code``, 1001 on shutdown); held handshakes get
        503. Waits at most ``within`` seconds for the closing handshakes, then drops the rest."""
        for proto in list(self.pending) + list(self.sockets):
            proto.close_with(code, "server shutting down")
        waiting = [f for f in self._gone.values() if not f.done()]
        if waiting:
            await asyncio.wait(waiting, timeout=within)
        for proto in list(self.pending) + list(self.sockets):
            if proto.transport is not None:
                proto.transport.abortConnection()

    def status(self) -> dict[str, Any]:
        return {"websockets": len(self.sockets), "websocket_handshakes": len(self.pending)}

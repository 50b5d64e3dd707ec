"""The WebSocket side of the ``http`` interface: the ``Upgrader`` the HTTP connection
hands WebSocket requests to, Autobahn's factory configured from ``WebSocketConfig``,
and the set of live sockets for shutdown and status.

It knows nothing of the HTTP side: it gets the host, the ``Retry-After`` value and a
reporting function from whoever composes it (``HttpInterface``), and each connection
as an ``UpgradeRequest`` (``interfaces/upgrade.py``).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from typing import Any, Literal

from autobahn.twisted.websocket import WebSocketServerFactory

from ..base import InterfaceHost
from ..upgrade import UpgradeRequest
from .config import WebSocketConfig
from .keepalive import PING_FRAME, Keepalive, KeepaliveTimer, Pinged
from .origin import OriginPolicy
from .protocol import ServerWebSocket

__all__ = ["WebSocketHub", "wants_websocket"]

_Factory: Any = WebSocketServerFactory  # partially annotated upstream: used untyped


def wants_websocket(method: bytes, headers: list[tuple[bytes, bytes]]) -> bool:
    """A ``GET`` asking to upgrade to WebSocket (names lowercased, as h11 gives them)."""
    if method != b"GET":
        return False
    upgrade = connection = False
    for name, value in headers:
        if name == b"upgrade":
            upgrade = upgrade or b"websocket" in value.lower()
        elif name == b"connection":
            connection = connection or any(
                t.strip() == b"upgrade" for t in value.lower().split(b",")
            )
    return upgrade and connection


class WebSocketHub:
    """Creates a ``ServerWebSocket`` per upgraded connection and tracks them."""

    scope_type: Literal["websocket"] = "websocket"
    #: Asked by the HTTP connection for every request: a plain function, no binding.
    wants = staticmethod(wants_websocket)

    def __init__(
        self,
        config: WebSocketConfig,
        host: InterfaceHost,
        *,
        retry_after: int,
        report: Callable[[str, str], None],
    ) -> None:
        self.config = config
        self.host = host
        #: ``Retry-After`` seconds of a 503 handshake answer.
        self.retry_after = retry_after
        #: Count a violation and log it (the interface's counters and logger).
        self.report = report
        self.origins = OriginPolicy(
            config.allowed_origins, config.allow_missing_origin, config.allowed_hosts
        )
        self.sockets: set[ServerWebSocket] = set()
        self.pending: set[ServerWebSocket] = set()
        self._gone: dict[ServerWebSocket, asyncio.Future[None]] = {}
        self.closes: Counter[int] = Counter()
        factory: Any = _Factory()
        factory.protocol = ServerWebSocket
        factory.setProtocolOptions(
            maxFramePayloadSize=config.max_frame_bytes,
            maxMessagePayloadSize=config.max_message_bytes,
            # Keepalive pings are the hub's, one sweep for every socket (keepalive.py).
            autoPingInterval=None,
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
        self.keepalive: KeepaliveTimer | None = None
        if config.ping_interval:
            rules = Keepalive(config.ping_interval, config.ping_timeout)
            self.keepalive = KeepaliveTimer(rules, lambda: self.sockets, _ping, _ping_timed_out)

    def upgrade(self, request: UpgradeRequest) -> ServerWebSocket:
        """Take the transport over with a new WebSocket protocol, replaying what the HTTP
        side read (the handshake's head first) so Autobahn checks the handshake itself."""
        proto: ServerWebSocket = self.factory.buildProtocol(None)
        proto.hub = self
        proto.scope = request.scope
        self.pending.add(proto)
        self._gone[proto] = asyncio.get_running_loop().create_future()
        proto.makeConnection(request.transport)
        proto.dataReceived(request.data)
        return proto

    def opened(self, proto: ServerWebSocket) -> None:
        self.pending.discard(proto)
        self.sockets.add(proto)
        if self.keepalive is not None:
            self.keepalive.start()  # started once; a no-op after

    def closed(self, proto: ServerWebSocket, code: int | None = None) -> None:
        if code is not None:
            self.closes[code] += 1
        self.pending.discard(proto)
        self.sockets.discard(proto)
        gone = self._gone.pop(proto, None)
        if gone is not None and not gone.done():
            gone.set_result(None)

    async def close_all(self, code: int, within: float) -> None:
        """Say goodbye to every socket (``code``, 1001 on shutdown); held handshakes get
        503. Waits at most ``within`` seconds for the closing handshakes, then drops the rest."""
        if self.keepalive is not None:
            self.keepalive.stop()
        for proto in list(self.pending) + list(self.sockets):
            proto.close_with(code, "server shutting down")
        waiting = [f for f in self._gone.values() if not f.done()]
        if waiting:
            await asyncio.wait(waiting, timeout=within)
        for proto in list(self.pending) + list(self.sockets):
            if proto.transport is not None:
                proto.transport.abortConnection()

    def status(self) -> dict[str, Any]:
        status: dict[str, Any] = {
            "websockets": len(self.sockets),
            "websocket_handshakes": len(self.pending),
            # Close codes of ended sockets (what the disconnect event said): the
            # ``answers`` of WebSocket, for status and /metrics.
            "closes": {str(code): n for code, n in sorted(self.closes.items())},
        }
        if self.keepalive is not None:
            status["websocket_pings"] = self.keepalive.pings
        return status


def _ping(sock: Pinged) -> None:
    proto: Any = sock
    if proto.state == proto.STATE_OPEN:
        proto.sendData(PING_FRAME)


def _ping_timed_out(sock: Pinged) -> None:
    # Autobahn's own handling of a missed pong: not clean, "WebSocket ping timeout"
    # (which ServerWebSocket.onClose counts as ``ws_ping_timeout``), connection aborted.
    proto: Any = sock
    proto.onAutoPingTimeout()

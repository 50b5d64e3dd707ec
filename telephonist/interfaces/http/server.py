"""The connection factory: limits on connections, what every connection shares
(settings, host, proxies, WebSocket side), violation counting and the access log."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import h11
from twisted.internet import interfaces as ti
from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.internet.protocol import Protocol, ServerFactory
from zope.interface import implementer  # type: ignore[import-untyped]

from ..base import InterfaceHost
from .config import HttpConfig
from .protocol import HttpProtocol
from .proxy import TrustedProxies
from .response import raw_error
from .scope import Endpoint, www_scope

if TYPE_CHECKING:
    from ..websocket.hub import WebSocketHub
    from .exchange import Exchange

__all__ = ["HttpServer"]

access_log = logging.getLogger("telephonist.access.http")


class _Refuse(Protocol):
    """Answers a connection over ``max_connections`` with 503 and closes it, without
    reading anything: refusing must cost less than serving."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after

    def connectionMade(self) -> None:
        transport: Any = self.transport
        transport.write(raw_error(503, [(b"retry-after", str(self.retry_after).encode())]))
        transport.loseConnection()


@implementer(ti.IProtocolNegotiationFactory)
class HttpServer(ServerFactory):
    """Builds ``HttpProtocol`` per connection, up to ``max_connections`` at once."""

    def acceptableProtocols(self) -> list[bytes]:
        """ALPN for ``ssl:`` endpoints. Twisted's ALPN callback answers an empty name
        when nothing overlaps, which current pyOpenSSL turns into a TLS "internal error"
        alert for every client that offers ALPN (curl, browsers, httpx): naming the one
        protocol spoken here makes the handshake succeed."""
        return [b"http/1.1"]

    def __init__(self, config: HttpConfig, host: InterfaceHost, log: logging.Logger) -> None:
        self.config = config
        self.host = host
        self.log = log
        self.proxies = TrustedProxies(config.trusted_proxies)
        self.connections: set[HttpProtocol] = set()
        self.websocket: WebSocketHub | None = None
        self.accepting = True

    # -- connections ------------------------------------------------------------------

    def buildProtocol(self, addr: Any) -> Protocol | None:
        if not self.accepting or self.open_connections() >= self.config.max_connections:
            self.violation("connections_refused", "connection limit reached", _host_of(addr))
            return _Refuse(self.config.retry_after)
        proto = HttpProtocol(self)
        self.connections.add(proto)
        return proto

    def open_connections(self) -> int:
        return len(self.connections)

    def forget(self, proto: HttpProtocol) -> None:
        self.connections.discard(proto)

    # -- shared helpers ---------------------------------------------------------------

    def endpoint_of(self, transport: Any) -> Endpoint:
        peer, local = transport.getPeer(), transport.getHost()
        tls = ti.ISSLTransport.providedBy(transport)
        if isinstance(peer, IPv4Address | IPv6Address):
            assert isinstance(local, IPv4Address | IPv6Address)
            return Endpoint(peer.host, peer.port, local.host, local.port, tls)
        path = local.name if isinstance(local, UNIXAddress) else b""
        name = path.decode() if isinstance(path, bytes) else str(path or "")
        return Endpoint(None, None, name, None, tls)

    def scope_for(self, kind: str, request: h11.Request, endpoint: Endpoint) -> dict[str, Any]:
        headers = list(request.headers)
        return www_scope(
            kind=kind,
            method=request.method,
            target=request.target,
            http_version=request.http_version,
            headers=headers,
            endpoint=endpoint,
            forwarded=self.proxies.forwarded(endpoint.peer_host, headers),
            root_path=self.config.root_path,
        )

    def violation(self, counter: str, reason: str, peer: str | None = None) -> None:
        """A limit or protocol rule was broken: count it and say so in the log."""
        self.host.count(counter)
        self.log.warning("http %s from %s: %s", counter, peer or "-", reason)

    def access(self, proto: HttpProtocol, ex: Exchange) -> None:
        if not self.config.access_log or not access_log.isEnabledFor(logging.INFO):
            return
        req = ex.request
        access_log.info(
            '%s "%s %s HTTP/%s" %d %d %.1fms',
            ex.client or proto.endpoint.peer_host or "unix",
            req.method.decode("ascii", "replace"),
            req.target.decode("ascii", "replace"),
            req.http_version.decode("ascii", "replace"),
            ex.status or 0,
            ex.body_bytes,
            (time.monotonic() - ex.started_at) * 1000,
        )


def _host_of(addr: Any) -> str | None:
    return getattr(addr, "host", None)

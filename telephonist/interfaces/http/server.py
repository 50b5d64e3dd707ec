"""The connection factory: the limit on open connections (refused ones cost almost
nothing) and the set of open ones, which shutdown drains. What the connections share
lives in ``ServerState``."""

from __future__ import annotations

from typing import Any

from twisted.internet import interfaces as ti
from twisted.internet.protocol import Protocol, ServerFactory
from zope.interface import implementer  # type: ignore[import-untyped]

from .protocol import HttpProtocol
from .response import raw_error
from .state import ServerState

__all__ = ["HttpServer"]


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
        protocol spoken here makes the handshake succeed. ``h2`` first: the server's order
        decides among what the client offers."""
        if self.state.config.http2.enabled:
            return [b"h2", b"http/1.1"]
        return [b"http/1.1"]

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.connections: set[HttpProtocol] = set()

    def buildProtocol(self, addr: Any) -> Protocol | None:
        state = self.state
        if not state.accepting or len(self.connections) >= state.config.max_connections:
            state.violation("connections_refused", "connection limit reached", _host_of(addr))
            return _Refuse(state.config.retry_after)
        proto = HttpProtocol(state, self.connections.discard)
        self.connections.add(proto)
        return proto

    def open_connections(self) -> int:
        return len(self.connections)


def _host_of(addr: Any) -> str | None:
    return getattr(addr, "host", None)

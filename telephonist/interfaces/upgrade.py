"""The upgrade hand-over: how the HTTP connection gives a connection to another protocol.

Theory of operation
-------------------
One port serves HTTP/1.1 and, through the ``Upgrade`` header, other protocols
(WebSocket today). The HTTP connection (``interfaces.http``) parses and checks the
request head; when an *upgrader* it was given ``wants`` the request, it stops reading,
builds the scope (trusted proxies and ``root_path`` are HTTP settings) and hands an
``UpgradeRequest`` over: the Twisted transport, the scope, and the bytes it had already
read (the raw head first, so the upgraded protocol can parse the handshake itself).
From then on the HTTP connection only forwards what Twisted tells it
(``dataReceived``, ``connectionLost``) to the ``Upgraded`` protocol it got back.

This is the shape of uvicorn (the h11 protocol builds the WebSocket protocol from a
class its config names and hands it the transport) and of Autobahn's Twisted resource.
The dependency runs one way: the WebSocket package implements ``Upgrader`` and never
imports ``interfaces.http``; only ``HttpInterface``, which composes the two, knows both.
Another upgrader (``h2c``, a later one) is one more entry in the tuple the HTTP side
asks in turn.

Nothing here does I/O or imports Twisted, so the types are usable without the ``http``
extra installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

from ..spec.www import WwwScope

__all__ = ["UpgradeRequest", "Upgraded", "Upgrader"]


@dataclass(frozen=True, slots=True)
class UpgradeRequest:
    """A connection handed from HTTP/1.1 to another protocol."""

    #: The Twisted transport (TCP, Unix or TLS), as it is: the new protocol calls
    #: ``makeConnection`` with it. Typed ``Any`` because Twisted's zope interfaces do
    #: not type-check as Python protocols.
    transport: Any
    #: The connection's scope, built for the upgrader's ``scope_type``.
    scope: WwwScope
    #: Every byte read so far: the raw request head, then whatever followed it.
    data: bytes


class Upgraded(Protocol):
    """The protocol an upgraded connection's bytes and end are forwarded to (the
    subset of Twisted's ``IProtocol`` the HTTP connection calls)."""

    def dataReceived(self, data: bytes) -> None: ...

    def connectionLost(self, reason: Any = None) -> None: ...


class Upgrader(Protocol):
    """Takes over connections whose request asks for its protocol."""

    #: Which scope the HTTP side builds for the hand-over ("websocket": ``ws``/``wss``
    #: schemes and no ``method``).
    @property
    def scope_type(self) -> Literal["http", "websocket"]: ...

    def wants(self, method: bytes, headers: list[tuple[bytes, bytes]]) -> bool:
        """Whether this request (method, headers lower-cased as h11 gives them) is one
        to take over. Asked for every request while the upgrader is installed: keep it
        cheap."""
        ...

    def upgrade(self, request: UpgradeRequest) -> Upgraded:
        """Take the connection: from here on its bytes go to the returned protocol."""
        ...

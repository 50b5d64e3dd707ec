"""What every connection of one ``http`` interface shares: settings, the host, trusted
proxies, the upgraders and mounted paths it may hand requests to, whether new requests
are taken; violation counting and the access log.

Kept apart from the connection factory (``server.py``) so that the connection
(``protocol.py``) can depend on it without the factory depending back on the connection.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Any, Literal, overload

import h11
from twisted.internet import interfaces as ti
from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress

from ...core.ratelog import RateLimitedLog
from ...spec.http import HTTPScope
from ...spec.websocket import WebSocketScope
from ..base import InterfaceHost
from ..mounts import Mounts
from ..upgrade import Upgrader
from .config import HttpConfig
from .exchange import Exchange
from .proxy import TrustedProxies
from .scope import Endpoint, www_scope

__all__ = ["ServerState"]

access_log = logging.getLogger("telephonist.access.http")
#: Violations that one outage causes on every connection: logged rate-limited.
_OUTAGE = frozenset({"layer_unavailable", "channel_full", "aborted", "response_timeout"})


class ServerState:
    def __init__(
        self,
        config: HttpConfig,
        host: InterfaceHost,
        log: logging.Logger,
        *,
        upgraders: tuple[Upgrader, ...] = (),
        mounts: Mounts | None = None,
    ) -> None:
        self.config = config
        self.host = host
        self.log = log
        self._outage_log = RateLimitedLog(log)
        self.proxies = TrustedProxies(config.trusted_proxies)
        #: Asked in turn for each request (``Upgrader.wants``); the first that wants it
        #: takes the connection over.
        self.upgraders = upgraders
        #: Paths served in-process on this port (``interfaces/mounts.py``); empty costs one check.
        self.mounts = mounts if mounts is not None else Mounts()
        #: False once shutdown began: no new request is read, responses say ``close``.
        self.accepting = True
        #: Responses by status code, for status and /metrics (one increment a request).
        self.answers: Counter[int] = Counter()

    def endpoint_of(self, transport: Any) -> Endpoint:
        peer, local = transport.getPeer(), transport.getHost()
        tls = ti.ISSLTransport.providedBy(transport)
        if isinstance(peer, IPv4Address | IPv6Address):
            assert isinstance(local, IPv4Address | IPv6Address)
            return Endpoint(peer.host, peer.port, local.host, local.port, tls)
        path = local.name if isinstance(local, UNIXAddress) else b""
        name = path.decode() if isinstance(path, bytes) else str(path or "")
        return Endpoint(None, None, name, None, tls)

    @overload
    def scope_for(
        self,
        kind: Literal["http"],
        request: h11.Request,
        headers: list[tuple[bytes, bytes]],
        endpoint: Endpoint,
    ) -> HTTPScope: ...

    @overload
    def scope_for(
        self,
        kind: Literal["websocket"],
        request: h11.Request,
        headers: list[tuple[bytes, bytes]],
        endpoint: Endpoint,
    ) -> WebSocketScope: ...

    def scope_for(
        self,
        kind: Literal["http", "websocket"],
        request: h11.Request,
        headers: list[tuple[bytes, bytes]],
        endpoint: Endpoint,
    ) -> HTTPScope | WebSocketScope:
        """The scope of ``request`` (``headers`` is its header list, already copied)."""
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
        if counter in _OUTAGE:
            # One cause (the layer down, a worker gone) for every connection at once: a
            # line per kind and minute, with the count of the rest.
            self._outage_log.warning(counter, "http %s from %s: %s", counter, peer or "-", reason)
        else:
            self.log.warning("http %s from %s: %s", counter, peer or "-", reason)

    def access(self, ex: Exchange[Any], peer: str | None) -> None:
        status = ex.reply.status
        self.answers[status] += 1
        if not self.config.access_log or not access_log.isEnabledFor(logging.INFO):
            return
        req = ex.request
        client = ex.client or peer or "unix"
        method = req.method.decode("ascii", "replace")
        target = req.target.decode("ascii", "replace")
        version = req.http_version.decode("ascii", "replace")
        took = (time.monotonic() - ex.started_at) * 1000
        # The same line in text; in JSON its parts are fields too (``access``).
        access_log.info(
            '%s "%s %s HTTP/%s" %d %d %.1fms', client, method, target, version, status,
            ex.body_bytes, took,
            extra={"access": {"client": client, "method": method, "target": target,
                              "http_version": version, "status": status,
                              "bytes": ex.body_bytes, "duration_ms": round(took, 3)}},
        )  # fmt: skip

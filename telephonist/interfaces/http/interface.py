"""``HttpInterface``: HTTP/1.1 and WebSocket on Twisted endpoints, over the channel layer.

This is where the two sides are composed, and the only module of ``interfaces.http``
that knows the WebSocket side exists (``config`` nests its settings table): it builds
the ``WebSocketHub`` and gives it to the connections as an ``Upgrader``
(``interfaces/upgrade.py``). The connection code (``protocol``, ``exchange``, ``reader``)
only knows that interface, so another upgrader or none changes nothing there. It also
hands the connections the process's mounted paths (``interfaces/mounts.py``).
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from twisted.internet.defer import Deferred
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import IListeningPort

from ...spec import http as spec
from ...spec import websocket as websocket_spec
from ..base import Interface, InterfaceConfig, InterfaceHost
from ..mounts import mounts
from ..websocket.hub import WebSocketHub
from .config import HttpConfig
from .server import HttpServer
from .state import ServerState

__all__ = ["HttpInterface"]


class HttpInterface(Interface):
    """The ``http`` interface. Needs Twisted's asyncio reactor on the running loop
    (``uses_twisted``), which the host installs before ``start``."""

    name: ClassVar[str] = "http"
    config_model: ClassVar[type[InterfaceConfig]] = HttpConfig
    uses_twisted: ClassVar[bool] = True
    event_channels: ClassVar[tuple[str, ...]] = (
        *spec.EVENT_CHANNELS,
        *websocket_spec.EVENT_CHANNELS,
    )

    def __init__(self, config: InterfaceConfig, host: InterfaceHost) -> None:
        super().__init__(config, host)
        assert isinstance(config, HttpConfig)
        self.cfg: HttpConfig = config
        self.state = ServerState(config, host, self.log, mounts=mounts)
        self.server = HttpServer(self.state)
        self.websocket: WebSocketHub | None = None
        self.ports: list[IListeningPort] = []

    async def start(self) -> None:
        from twisted.internet import reactor

        if self.cfg.websocket.enabled:
            self.websocket = WebSocketHub(
                self.cfg.websocket,
                self.host,
                retry_after=self.cfg.retry_after,
                report=self.state.violation,
            )
            self.state.upgraders = (self.websocket,)
        loop = asyncio.get_running_loop()
        try:
            for description in self.cfg.endpoints:
                endpoint = serverFromString(reactor, description)  # type: ignore[no-untyped-call]
                listening: Deferred[IListeningPort] = endpoint.listen(self.server)
                self.ports.append(await listening.asFuture(loop))
        except BaseException:
            await self._stop_listening()
            raise
        self.log.debug("http listening on %s", ", ".join(self.endpoints()))

    async def _stop_listening(self) -> None:
        loop = asyncio.get_running_loop()
        ports, self.ports = self.ports, []
        for port in ports:
            stopped = port.stopListening()  # type: ignore[misc]
            if isinstance(stopped, Deferred):
                await stopped.asFuture(loop)

    async def stop(self, drain_timeout: float) -> None:
        """Stop listening; let requests in flight finish for up to ``drain_timeout``
        (new requests on kept-alive connections are not read); close WebSockets with
        1001; then drop whatever is left."""
        server = self.server
        self.state.accepting = False
        await self._stop_listening()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + drain_timeout
        for proto in list(server.connections):
            proto.drain()
        # WebSockets (HTTP/1.1 upgrades, and HTTP/2 connections carrying some) are
        # closed by close_all below, not waited for here.
        busy = [
            p.lost
            for p in server.connections
            if p.upgraded is None and not (p.h2 and p.h2.tunnels) and not p.lost.done()
        ]
        if busy:
            await asyncio.wait(busy, timeout=max(0.0, deadline - loop.time()))
        if self.websocket is not None:
            await self.websocket.close_all(1001, max(0.0, deadline - loop.time()))
        for proto in list(server.connections):
            proto.abort()

    def endpoints(self) -> list[str]:
        out = []
        for port in self.ports:
            addr: Any = port.getHost()  # type: ignore[misc]
            host = getattr(addr, "host", None)
            if host is None:
                out.append(
                    f"unix:{addr.name.decode() if isinstance(addr.name, bytes) else addr.name}"
                )
                continue
            scheme = "https" if _is_tls(port) else "http"
            shown = f"[{host}]" if ":" in host else host
            out.append(f"{scheme}://{shown}:{addr.port}")
        return out

    def status(self) -> dict[str, Any]:
        info: dict[str, Any] = {"connections": self.server.open_connections()}
        info["answers"] = {str(code): n for code, n in sorted(self.state.answers.items())}
        if self.websocket is not None:
            info.update(self.websocket.status())
        paths = self.state.mounts.paths()
        if paths:
            info["mounted_paths"] = paths
        return info


def _is_tls(port: Any) -> bool:
    # A TLS endpoint wraps the factory in TLSMemoryBIOFactory.
    return type(getattr(port, "factory", None)).__name__ == "TLSMemoryBIOFactory"

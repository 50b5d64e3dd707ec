"""``InterfaceServer``: the server side of the interface contract.

One per interface-server process. It owns the process's prefix (``srv.<id>!``), its
reply channels (:mod:`.replies`), the connection table (:mod:`.affinity`) and the
control channel on which workers bind connections and send heartbeats. Each interface
gets its own :class:`_InterfaceView` of the server, so counters and live connections are
attributed to the interface that caused them and no interface can reach another's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from ..affinity import control
from ..config.model import AffinitySettings, ServerSettings
from ..core.base import BaseChannelLayer
from ..core.codec import Content
from ..core.exceptions import ChannelFull
from ..core.names import non_local_name, require_valid_channel_name
from ..core.stats import layer_counters
from ..interfaces.base import Interface, ReplyHandler
from ..interfaces.plugins import ConfiguredInterface
from ..lifespan import Lifespan, keep_status_membership, load_hooks, run_hooks
from .affinity import Affinity
from .replies import ReplyChannels

__all__ = ["InterfaceServer", "StartupError"]

log = logging.getLogger("telephonist.server")

_GOODBYE_GRACE = 5.0  # beyond the drain: time an interface's stop() has for goodbyes


class StartupError(RuntimeError):
    """An interface or a start-up hook failed; what had started was stopped again."""


class _InterfaceView:
    """What one interface sees of the server (``Interface.host``, typed ``InterfaceHost``)."""

    def __init__(self, server: InterfaceServer, name: str) -> None:
        self._server = server
        self._name = name
        self.counters: Counter[str] = Counter()

    @property
    def layer(self) -> BaseChannelLayer:
        return self._server.layer

    async def open_reply_channel(
        self, handler: ReplyHandler, prefix: str = "", *, rebind: bool = False
    ) -> str:
        return self._server.open_reply_channel(handler, prefix, owner=self._name, rebind=rebind)

    def close_reply_channel(self, channel: str) -> None:
        self._server.close_reply_channel(channel)

    async def send_event(
        self, channel: str, message: Content, *, connection: str | None = None, last: bool = False
    ) -> None:
        try:
            await self._server.send_event(channel, message, connection=connection, last=last)
        except ChannelFull:
            self.counters["overloaded"] += 1
            raise
        self.counters["events"] += 1

    async def send_events(
        self, events: Sequence[tuple[str, Content, str]]
    ) -> list[Exception | None]:
        outcomes = await self._server.send_events(events)
        sent = outcomes.count(None)
        self.counters["events"] += sent
        if len(outcomes) > sent:
            self.counters["overloaded"] += len(outcomes) - sent
        return outcomes

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] += n


class InterfaceServer:
    def __init__(
        self,
        layer: BaseChannelLayer,
        interfaces: Sequence[ConfiguredInterface],
        settings: ServerSettings | None = None,
        affinity: AffinitySettings | None = None,
    ) -> None:
        self.layer = layer
        self.settings = settings or ServerSettings()
        self._affinity_settings = affinity or AffinitySettings()
        self._configured = list(interfaces)
        self.counters: Counter[str] = Counter()
        self.replies = ReplyChannels(layer, self.counters)
        self.interfaces: dict[str, Interface] = {}
        self._views: dict[str, _InterfaceView] = {}
        self.prefix = ""
        self.affinity: Affinity | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._started_at = 0.0
        self._server_hooks = (
            load_hooks(self.settings.on_startup, "server.on_startup"),
            load_hooks(self.settings.on_shutdown, "server.on_shutdown"),
        )
        self._iface_hooks = {
            c.name: (
                load_hooks(c.on_startup, f"interfaces.{c.name}.on_startup"),
                load_hooks(c.on_shutdown, f"interfaces.{c.name}.on_shutdown"),
            )
            for c in self._configured
        }

    # -- the InterfaceHost contract ---------------------------------------------------

    def open_reply_channel(
        self, handler: ReplyHandler, label: str = "", *, owner: str, rebind: bool = False
    ) -> str:
        if self.affinity is None:
            raise RuntimeError("the interface server is not started")
        local = f"{label}.{secrets.token_hex(8)}" if label else secrets.token_hex(8)
        name = require_valid_channel_name(self.prefix + local)
        self.replies.open(name, handler, owner)
        self.affinity.open(name, rebind)
        return name

    def close_reply_channel(self, channel: str) -> None:
        if self.replies.close(channel) and self.affinity is not None:
            self.affinity.close(channel)

    async def send_event(
        self, channel: str, message: Content, *, connection: str | None = None, last: bool = False
    ) -> None:
        require_valid_channel_name(channel)
        if connection is None or self.affinity is None:
            try:
                await self.layer.send(channel, message)
            except ChannelFull:
                self.counters["full"] += 1
                raise
            self.counters["events"] += 1
            return
        await self.affinity.send(channel, message, connection, last)

    async def send_events(
        self, events: Sequence[tuple[str, Content, str]]
    ) -> list[Exception | None]:
        """``InterfaceHost.send_events``: the leading run of bound connections' events
        in one layer call (see ``Affinity.send_bound``)."""
        if self.affinity is None:
            return []
        for channel, _, _ in events:
            require_valid_channel_name(channel)
        return await self.affinity.send_bound(events)

    @property
    def control_channel(self) -> str:
        return self.prefix + "control"

    # -- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        self._started_at = time.time()
        # The layer names one process; a random label keeps two servers of one process
        # (tests, embedding) apart. The label goes before the layer's process token,
        # which some layers read from just before the "!".
        label = secrets.token_hex(3)
        self.prefix = non_local_name(await self.layer.new_channel(f"srv.{label}."))
        self.affinity = Affinity(
            self.layer, self.prefix, self._affinity_settings, self.counters, self.replies.abort
        )
        loop = asyncio.get_running_loop()
        self.replies.open(self.control_channel, self._on_control, owner="(host)")
        self._tasks.append(loop.create_task(self.affinity.run_watchdog(), name="affinity"))
        self._tasks.append(
            loop.create_task(keep_status_membership(self.layer, self.control_channel))
        )
        for configured in self._configured:
            view = _InterfaceView(self, configured.name)
            interface = configured.cls(configured.config, view)
            try:
                await interface.start()
                await run_hooks(
                    self._iface_hooks[configured.name][0],
                    self._lifespan("startup", configured.name),
                )
            except Exception as exc:
                log.error("interface %s failed to start: %s", configured.name, exc)
                await self.stop(drain_timeout=0)
                raise StartupError(f"interface {configured.name!r} failed to start: {exc}") from exc
            self.interfaces[configured.name] = interface
            self._views[configured.name] = view
            where = ", ".join(interface.endpoints()) or "(no endpoint)"
            # DEBUG: the process's start-up report (stdout) says this once for operators.
            log.debug("interface %s serving on %s", configured.name, where)
        try:
            await run_hooks(self._server_hooks[0], self._lifespan("startup"))
        except Exception as exc:
            await self.stop(drain_timeout=0)
            raise StartupError(f"server start-up hook failed: {exc}") from exc

    def _lifespan(self, phase: str, interface: str | None = None) -> Lifespan:
        # "host": the value hooks compare with, kept from before the name.
        return Lifespan(phase, "host", self.layer, interface)  # type: ignore[arg-type]

    async def stop(self, drain_timeout: float | None = None) -> None:
        """Every interface drains (concurrently, bounded) and says goodbye; then hooks."""
        drain = self.settings.drain_timeout if drain_timeout is None else drain_timeout
        interfaces, self.interfaces = self.interfaces, {}
        await asyncio.gather(*(self._stop_one(n, i, drain) for n, i in interfaces.items()))
        for name in interfaces:
            await run_hooks(self._iface_hooks[name][1], self._lifespan("shutdown", name))
        if interfaces:
            await run_hooks(self._server_hooks[1], self._lifespan("shutdown"))
        if self.affinity is not None:
            await self.affinity.wait_background(within=2.0)
        with contextlib.suppress(NotImplementedError, TypeError):
            await self.layer.group_discard(control.STATUS_GROUP, self.control_channel)
        await self.replies.close_all()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def _stop_one(self, name: str, interface: Interface, drain: float) -> None:
        try:
            await asyncio.wait_for(interface.stop(drain), drain + _GOODBYE_GRACE)
        except TimeoutError:
            log.error("interface %s did not stop within %.1fs", name, drain + _GOODBYE_GRACE)
        except Exception:
            log.exception("interface %s failed while stopping", name)
        else:
            log.info("interface %s stopped", name)

    # -- control channel --------------------------------------------------------------

    async def _on_control(self, message: Content) -> None:
        if message.get("type") == control.STATUS_REQUEST:
            reply_to = control.field(message, "reply_channel", str)
            if reply_to:
                with contextlib.suppress(ChannelFull, TypeError):
                    await self.layer.send(reply_to, {"type": control.STATUS, **self.status()})
        elif self.affinity is not None:
            await self.affinity.handle_control(message)

    def status(self) -> dict[str, Any]:
        """A JSON-safe snapshot for ``telephonist status``."""
        open_channels = self.replies.open_by_owner()
        interfaces = {}
        for name, interface in self.interfaces.items():
            interfaces[name] = {
                "endpoints": interface.endpoints(),
                "connections": open_channels.get(name, 0),
                "counters": dict(self._views[name].counters),
                "status": interface.status(),
            }
        return {
            "kind": "host",
            "id": self.prefix,
            "pid": os.getpid(),
            "hostname": socket.gethostname(),
            "uptime": round(time.time() - self._started_at, 1),
            "interfaces": interfaces,
            "counters": dict(self.counters),
            "affinity": self.affinity.snapshot() if self.affinity else {},
            # This process's layer object: its drops, traffic and send timings. Parts of
            # one process (all-in-one) share it; the reader counts it once per pid.
            "layer": layer_counters(self.layer),
        }

"""``running_app``: your Slack bot, for real, against the stand-in, in the test's event loop.

It starts what ``telephonist run`` would (the production host with the ``slack``
interface, a worker with your routing, one in-memory layer) with the interface pointed
at the stand-in over Socket Mode, and stops it all when the block ends::

    async with SlackStandIn() as slack, running_app(slack, "mybot.routing.routes") as app:
        await slack.wait_connected()
        ...

``settings`` override the interface's (``post_interval=0``, ``ack_wait=1.0``, ...).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ...config.model import AffinitySettings, ServerSettings, WorkerSettings
from ...core.base import BaseChannelLayer
from ...core.memory import InMemoryChannelLayer
from ...interfaces.plugins import ConfiguredInterface, InterfacePlugin
from ...interfaces.slack import SlackConfig, SlackInterface
from ...routing import Include, Route, Router
from ...server import InterfaceServer
from ...worker import Worker
from .driver import SlackStandIn

__all__ = ["SlackApp", "running_app", "settings_for"]

Routing = str | Sequence[Route | Include]


def settings_for(slack: SlackStandIn, **overrides: Any) -> dict[str, Any]:
    """``[interfaces.slack]`` settings that point at ``slack``: Socket Mode (and the
    Events API's signing secret), quick reconnects, no pacing between posts."""
    return {
        "bot_token": slack.team.bot_token,
        "app_token": slack.app_token,
        "signing_secret": slack.signing_secret,
        "api_url": slack.api_url,
        "post_interval": 0.0,
        "reconnect_min": 0.05,
        "reconnect_max": 0.5,
        **overrides,
    }


@dataclass
class SlackApp:
    layer: BaseChannelLayer
    host: InterfaceServer
    worker: Worker | None = None

    @property
    def interface(self) -> SlackInterface:
        interface = self.host.interfaces["slack"]
        assert isinstance(interface, SlackInterface)
        return interface

    @property
    def counters(self) -> dict[str, int]:
        """The interface's counters (``received``, ``acked``, ``duplicates``, ...)."""
        return dict(self.host.status()["interfaces"]["slack"]["counters"])

    async def start_worker(self, routing: Routing) -> Worker:
        """A worker for ``routing`` (a dotted path or a list of routes)."""
        router = Router(routing) if isinstance(routing, str) else Router(list(routing))
        self.worker = Worker(self.layer, router, WorkerSettings(), _AFFINITY)
        await self.worker.start()
        return self.worker


_AFFINITY = AffinitySettings(heartbeat_interval=0.5, bind_timeout=5.0)


@contextlib.asynccontextmanager
async def running_app(
    slack: SlackStandIn | Mapping[str, Any],
    routing: Routing | None = None,
    *,
    layer: BaseChannelLayer | None = None,
    **settings: Any,
) -> AsyncIterator[SlackApp]:
    """The interface and (with ``routing``) a worker; see the module docstring.
    ``slack`` is the stand-in to point at, or complete interface settings."""
    layer = layer or InMemoryChannelLayer()
    plugin = InterfacePlugin("slack", "telephonist.interfaces.slack:SlackInterface",
                             "telephonist", cls=SlackInterface)  # fmt: skip
    if isinstance(slack, SlackStandIn):
        config = SlackConfig(**settings_for(slack, **settings))
    else:
        config = SlackConfig(**{**slack, **settings})
    host = InterfaceServer(layer, [ConfiguredInterface(plugin, SlackInterface, config)],
                           ServerSettings(drain_timeout=5.0), _AFFINITY)  # fmt: skip
    app = SlackApp(layer, host)
    if routing is not None:
        await app.start_worker(routing)
    await host.start()
    try:
        yield app
    finally:
        await host.stop(drain_timeout=2.0)
        if app.worker is not None:
            await app.worker.stop(drain_timeout=2.0)
        await layer.close()

"""The real runtime around the IRC interface, in the test's process and event loop.

``IrcStack`` is the production ``InterfaceServer`` running ``IrcInterface`` over one
``InMemoryChannelLayer``, plus a ``Worker`` with real routing. By default the routing
is a *recorder*: an async consumer on every ``irc-client.*`` channel that hands each
event to the test (``next_event``), so the test sees exactly what a consumer would,
bound to a worker through the host's affinity protocol. Tests answer by sending to the
event's ``reply_channel`` on the layer, as a consumer does, or route real consumers
(``ChatConsumer`` subclasses) instead.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from telephonist.config.model import AffinitySettings, ServerSettings, WorkerSettings
from telephonist.consumers import Message
from telephonist.core.memory import InMemoryChannelLayer
from telephonist.interfaces.irc import IrcConfig, IrcInterface, spec
from telephonist.interfaces.plugins import ConfiguredInterface, InterfacePlugin
from telephonist.routing import Include, Route, Router, route
from telephonist.server import InterfaceServer
from telephonist.worker import Worker

__all__ = ["AFFINITY", "IrcStack", "irc_plugin"]

AFFINITY = AffinitySettings(heartbeat_interval=0.5, bind_timeout=5.0)


def irc_plugin(config: IrcConfig) -> ConfiguredInterface:
    plugin = InterfacePlugin(
        "irc", "telephonist.interfaces.irc:IrcInterface", "telephonist", cls=IrcInterface
    )
    return ConfiguredInterface(plugin, IrcInterface, config)


@dataclass
class IrcStack:
    layer: InMemoryChannelLayer
    server: InterfaceServer
    worker: Worker | None = None
    events: dict[str, asyncio.Queue[dict[str, Any]]] = field(default_factory=dict)

    @property
    def interface(self) -> IrcInterface:
        interface = self.server.interfaces["irc"]
        assert isinstance(interface, IrcInterface)
        return interface

    @property
    def counters(self) -> Counter[str]:
        """The interface's counters, as ``telephonist status`` shows them."""
        return Counter(self.server.status()["interfaces"]["irc"]["counters"])

    def _queue(self, channel: str) -> asyncio.Queue[dict[str, Any]]:
        return self.events.setdefault(channel, asyncio.Queue())

    async def record(self, message: Message, **kwargs: str) -> None:
        """The recorder consumer."""
        await self._queue(message.channel.name).put(dict(message.content))

    async def next_event(
        self, channel: str, match: Callable[[dict[str, Any]], bool] = lambda m: True,
        within: float = 10,
    ) -> dict[str, Any]:  # fmt: skip
        """The next event a consumer got on ``channel`` that matches ``match``."""
        queue = self._queue(channel)
        async with asyncio.timeout(within):
            while True:
                event = await queue.get()
                if match(event):
                    return event

    async def start_worker(self, routing: Sequence[Route | Include] | None = None) -> Worker:
        routes = list(routing) if routing is not None else [route(spec.EVENT_CHANNELS, self.record)]
        self.worker = Worker(self.layer, Router(routes), WorkerSettings(), AFFINITY)
        await self.worker.start()
        return self.worker

    async def stop_worker(self) -> None:
        if self.worker is not None:
            await self.worker.stop(drain_timeout=2.0)
            self.worker = None

    @classmethod
    async def start(
        cls,
        config: IrcConfig,
        routing: Sequence[Route | Include] | None = None,
        *,
        layer: InMemoryChannelLayer | None = None,
        extra: Sequence[ConfiguredInterface] = (),
    ) -> IrcStack:
        layer = layer or InMemoryChannelLayer()
        server = InterfaceServer(
            layer, [irc_plugin(config), *extra], ServerSettings(drain_timeout=5.0), AFFINITY
        )
        stack = cls(layer, server)
        await stack.start_worker(routing)
        await server.start()
        return stack

    async def stop(self) -> None:
        await self.server.stop(drain_timeout=2.0)
        await self.stop_worker()
        await self.layer.close()

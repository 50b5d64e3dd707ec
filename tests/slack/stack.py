"""The production host running ``SlackInterface`` (and optionally a worker with real
routing) in the test's loop, pointed at a ``SlackStandIn``.

``recorder`` makes an async function consumer that queues what it gets for the test
(and may answer), so assertions wait on a queue, never on a sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from telephonist.config.model import AffinitySettings, HostSettings, WorkerSettings
from telephonist.consumers import Message
from telephonist.core.base import BaseChannelLayer
from telephonist.core.memory import InMemoryChannelLayer
from telephonist.host import InterfaceServer
from telephonist.interfaces.slack import SlackConfig, SlackInterface
from telephonist.plugins import ConfiguredInterface, InterfacePlugin
from telephonist.routing import Include, Route, Router
from telephonist.testing.slack import SlackStandIn
from telephonist.worker import Worker

__all__ = ["SlackStack", "config_for", "recorder", "running_stack"]

AFFINITY = AffinitySettings(heartbeat_interval=0.5, bind_timeout=5.0)


def config_for(slack: SlackStandIn, **overrides: Any) -> dict[str, Any]:
    """Settings pointing the interface at the stand-in (Socket Mode unless overridden)."""
    return {
        "bot_token": slack.team.bot_token,
        "app_token": slack.app_token,
        "signing_secret": slack.signing_secret,
        "api_url": slack.api_url,
        "post_interval": 0.05,
        "reconnect_min": 0.05,
        "reconnect_max": 0.5,
        **overrides,
    }


@dataclass
class SlackStack:
    layer: BaseChannelLayer
    host: InterfaceServer
    worker: Worker | None
    received: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)

    @property
    def interface(self) -> SlackInterface:
        interface = self.host.interfaces["slack"]
        assert isinstance(interface, SlackInterface)
        return interface

    @property
    def counters(self) -> dict[str, int]:
        return dict(self.host.status()["interfaces"]["slack"]["counters"])

    async def until(self, predicate: Callable[[], Any], within: float = 10) -> Any:
        """Wait (polling, bounded) until ``predicate()`` is truthy: the host's counters and
        the interface's status signal nothing, so this is the one poll of these tests."""
        async with asyncio.timeout(within):
            while not (value := predicate()):  # noqa: ASYNC110 (host state signals nothing)
                await asyncio.sleep(0.01)
        return value

    async def counted(self, name: str, n: int = 1, within: float = 10) -> int:
        """Wait until counter ``name`` reaches ``n``."""
        await self.until(lambda: self.counters.get(name, 0) >= n, within)
        return self.counters[name]

    async def next_received(self, within: float = 10) -> dict[str, Any]:
        async with asyncio.timeout(within):
            return await self.received.get()

    async def start_worker(self, routing: Sequence[Route | Include]) -> None:
        self.worker = Worker(self.layer, Router(list(routing)), WorkerSettings(), AFFINITY)
        await self.worker.start()


def recorder(ref: list[SlackStack], reply: Callable[[dict[str, Any]], Any] | None = None) -> Any:
    async def consume(message: Message, **kwargs: str) -> None:
        content = dict(message.content)
        await ref[0].received.put(content)
        if reply is not None and message.reply_channel is not None:
            answer = reply(content)
            if answer is not None:
                await message.reply_channel.send(answer)

    return consume


@contextlib.asynccontextmanager
async def running_stack(
    config: dict[str, Any],
    routing: Callable[[list[SlackStack]], Sequence[Route | Include]] | None = None,
    *,
    layer: BaseChannelLayer | None = None,
) -> AsyncIterator[SlackStack]:
    layer = layer or InMemoryChannelLayer()
    plugin = InterfacePlugin(
        "slack", "telephonist.interfaces.slack:SlackInterface", "telephonist", cls=SlackInterface
    )
    configured = ConfiguredInterface(plugin, SlackInterface, SlackConfig(**config))
    host = InterfaceServer(layer, [configured], HostSettings(drain_timeout=5.0), AFFINITY)
    stack = SlackStack(layer, host, None)
    if routing is not None:
        await stack.start_worker(routing([stack]))
    await host.start()
    try:
        yield stack
    finally:
        await host.stop(drain_timeout=2.0)
        if stack.worker is not None:
            await stack.worker.stop(drain_timeout=2.0)
        await layer.close()

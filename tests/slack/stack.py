"""The production host running ``SlackInterface`` (and optionally a worker with real
routing) in the test's loop, pointed at a ``SlackStandIn``: the public ``running_app``
plus a queue that test consumers (``recorder``) feed, so assertions wait on a queue."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from telephonist.core.base import BaseChannelLayer
from telephonist.routing import Include, Route
from telephonist.testing.slack import SlackApp, SlackStandIn, running_app, settings_for
from tests.recording import recorder

__all__ = ["SlackStack", "config_for", "recorder", "running_stack"]


def config_for(slack: SlackStandIn, **overrides: Any) -> dict[str, Any]:
    """Settings pointing at the stand-in, with a little pacing left on (replies in one
    channel 50 ms apart) so tests see the scheduler at work."""
    return settings_for(slack, **{"post_interval": 0.05, **overrides})


@dataclass
class SlackStack:
    app: SlackApp
    received: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)

    @property
    def layer(self) -> BaseChannelLayer:
        return self.app.layer

    @property
    def interface(self) -> Any:
        return self.app.interface

    @property
    def counters(self) -> dict[str, int]:
        return self.app.counters

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
        await self.app.start_worker(routing)


@contextlib.asynccontextmanager
async def running_stack(
    config: dict[str, Any],
    routing: Callable[[list[SlackStack]], Sequence[Route | Include]] | None = None,
    *,
    layer: BaseChannelLayer | None = None,
) -> AsyncIterator[SlackStack]:
    ref: list[SlackStack] = []
    async with running_app(config, layer=layer) as app:
        stack = SlackStack(app)
        ref.append(stack)
        if routing is not None:
            await stack.start_worker(routing(ref))
        yield stack

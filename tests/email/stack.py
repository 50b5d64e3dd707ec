"""The real runtime around the email interface, in the test's process and event loop.

``Stack`` is an ``InterfaceServer`` (the production host) running ``EmailInterface``,
plus optionally a ``Worker`` with real routing, over one ``InMemoryChannelLayer``.
Real SMTP clients (swaks in a subprocess, smtplib in a thread) talk to it over
loopback. ``recorder`` makes an async consumer that hands every message it gets to a
queue the test awaits, so assertions never sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from telephonist.config.model import AffinitySettings, ServerSettings, WorkerSettings
from telephonist.core.memory import InMemoryChannelLayer
from telephonist.interfaces.email import EmailConfig, EmailInterface
from telephonist.interfaces.plugins import ConfiguredInterface, InterfacePlugin
from telephonist.routing import Include, Route, Router
from telephonist.server import InterfaceServer
from telephonist.worker import Worker
from tests import recording

__all__ = ["Stack", "recorder", "running_stack"]

AFFINITY = AffinitySettings(heartbeat_interval=0.5, bind_timeout=5.0)


@dataclass
class Stack:
    layer: InMemoryChannelLayer
    host: InterfaceServer
    worker: Worker | None
    received: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)

    @property
    def interface(self) -> EmailInterface:
        interface = self.host.interfaces["email"]
        assert isinstance(interface, EmailInterface)
        return interface

    @property
    def port(self) -> int:
        return self._port("smtp")

    @property
    def tls_port(self) -> int:
        return self._port("smtps")

    def _port(self, scheme: str) -> int:
        for endpoint in self.interface.endpoints():
            if endpoint.startswith(scheme + "://"):
                return int(endpoint.rsplit(":", 1)[1])
        raise LookupError(f"no {scheme} listener")

    @property
    def counters(self) -> dict[str, int]:
        return dict(self.host.status()["interfaces"]["email"]["counters"])

    async def next_received(self, within: float = 15) -> dict[str, Any]:
        async with asyncio.timeout(within):
            return await self.received.get()

    async def start_worker(self, routing: Sequence[Route | Include]) -> None:
        self.worker = Worker(self.layer, Router(list(routing)), WorkerSettings(), AFFINITY)
        await self.worker.start()


def recorder(stack_ref: list[Stack], reply: Callable[[dict[str, Any]], Any] | None = None) -> Any:
    """``tests.recording.recorder`` with the route's captured groups (the mailbox) as
    ``content["_kwargs"]``."""
    return recording.recorder(stack_ref, reply, kwargs=True)


@contextlib.asynccontextmanager
async def running_stack(
    config: dict[str, Any],
    routing: Callable[[list[Stack]], Sequence[Route | Include]] | None = None,
    *,
    layer: InMemoryChannelLayer | None = None,
) -> AsyncIterator[Stack]:
    """Host (and, with ``routing``, a worker) serving ``EmailConfig(**config)``."""
    layer = layer or InMemoryChannelLayer()
    plugin = InterfacePlugin("email", "telephonist.interfaces.email:EmailInterface",
                             "telephonist", cls=EmailInterface)  # fmt: skip
    configured = ConfiguredInterface(plugin, EmailInterface, EmailConfig(**config))
    host = InterfaceServer(layer, [configured], ServerSettings(drain_timeout=5.0), AFFINITY)
    stack = Stack(layer, host, None)
    ref = [stack]
    if routing is not None:
        await stack.start_worker(routing(ref))
    await host.start()
    try:
        yield stack
    finally:
        await host.stop(drain_timeout=2.0)
        if stack.worker is not None:
            await stack.worker.stop(drain_timeout=2.0)
        await layer.close()

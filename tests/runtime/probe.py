"""A protocol-less interface for host tests (``Probe``), and a reply handler that records
what reaches it (``Recorder``): shared by the host and affinity tests."""

from __future__ import annotations

import asyncio
from typing import Any

from telephonist.core.codec import Content
from telephonist.interfaces.base import Interface, InterfaceConfig
from telephonist.interfaces.plugins import ConfiguredInterface, InterfacePlugin

__all__ = ["EVENTS", "PROBES", "Probe", "ProbeConfig", "Recorder", "configured"]

WITHIN = 5.0  # bound on every wait below; passing runs take milliseconds


class ProbeConfig(InterfaceConfig):
    fail_start: bool = False


class Probe(Interface):
    """A protocol-less interface that records what the host does to it."""

    name = "probe"
    config_model = ProbeConfig
    event_channels = ("probe.connect",)
    config: ProbeConfig

    def __init__(self, config: InterfaceConfig, host: Any) -> None:
        super().__init__(config, host)
        self.stopped_with: float | None = None
        EVENTS.append(f"{self.name}.init")

    async def start(self) -> None:
        if self.config.fail_start:
            raise OSError("address already in use")
        PROBES.append(self)
        EVENTS.append("start")

    async def stop(self, drain_timeout: float) -> None:
        self.stopped_with = drain_timeout
        EVENTS.append("stop")

    def endpoints(self) -> list[str]:
        return ["probe://here"]


PROBES: list[Probe] = []
EVENTS: list[str] = []


def configured(**options: Any) -> ConfiguredInterface:
    """The probe as a configured interface; hook options become its lifespan hooks."""
    hooks = {k: tuple(options.pop(k)) for k in ("on_startup", "on_shutdown") if k in options}
    plugin = InterfacePlugin("probe", "tests:Probe", "tests", cls=Probe)
    return ConfiguredInterface(plugin, Probe, ProbeConfig(**options), **hooks)


class Recorder:
    def __init__(self) -> None:
        self.messages: list[Content] = []
        self.arrived = asyncio.Event()
        self.gate: asyncio.Event | None = None

    async def __call__(self, message: Content) -> None:
        if self.gate is not None:
            await self.gate.wait()
        if message.get("fail"):
            raise ValueError("handler bug")
        self.messages.append(message)
        self.arrived.set()

    async def wait_for(self, count: int) -> list[Content]:
        async with asyncio.timeout(WITHIN):
            while len(self.messages) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.messages

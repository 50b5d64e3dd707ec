"""Running a process: the interface server, the worker, or both (all-in-one) on one loop.

Everything that can be wrong with the configuration (plugins, interface options, hooks,
routing) is checked before anything listens, so a bad setting fails fast with exit
code 2 and a message naming it. Order on the loop: Twisted's reactor (if an enabled
interface needs it), then the worker (so the first events are taken at once), then the
interfaces. Stopping runs the other way round: interfaces drain and say goodbye while
the worker still answers them, then the worker drains.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ..config import ConfigError, TelephonistConfig
from ..core.base import BaseChannelLayer
from ..core.exceptions import InvalidChannelLayerError
from ..core.layers import DEFAULT_CHANNEL_LAYER, SHORT_NAMES, channel_layers, make_channel_layer
from ..core.memory import InMemoryChannelLayer
from ..interfaces.plugins import ConfiguredInterface, discover, enabled_interfaces
from ..logging import set_role
from ..routing import Router, RoutingError
from ..server import InterfaceServer, StartupError
from ..server.reactor import ReactorError, install_asyncio_reactor, shutdown_reactor, start_reactor
from ..worker import Worker, sync_consumers_running
from .metrics_setup import Metrics
from .signals import StopSignals
from .startup import announce, disabled_reasons, idle_channels
from .status import StatusEndpoint, default_socket_dir, layer_status

__all__ = ["EXIT_CONFIG", "EXIT_FAILURE", "Plan", "build_layer", "fail", "plan", "run_plan"]

log = logging.getLogger("telephonist")

#: Exit codes: a start-up failure (an interface cannot listen), and a configuration
#: problem found before anything started.
EXIT_FAILURE = 1
EXIT_CONFIG = 2

# The runtime's own process-specific channels carry every bound event (inboxes) and
# every bind and heartbeat (control): they get more room than the default capacity. So
# does the reply channel of an IRC conversation, which carries the replies of a whole
# room: while its interface server is busy (or descheduled) the worker can answer what
# its inbox holds, and those replies must fit, or the consumers get ChannelFull.
_RUNTIME_CAPACITY = {"*!inbox": 1000, "*!control": 1000, "*!irc.*": 2000}


@dataclass
class Plan:
    """What one process will run, resolved and validated before the loop starts."""

    config: TelephonistConfig
    interfaces: list[ConfiguredInterface] = field(default_factory=list)
    worker: bool = False
    culprits: list[str] = field(default_factory=list)
    event_channels: set[str] = field(default_factory=set)
    #: Interfaces this process could serve but does not, with why (start-up says so).
    disabled: dict[str, str] = field(default_factory=dict)
    #: Event channels of the configured interfaces that are disabled or idle.
    idle_channels: set[str] = field(default_factory=set)

    @property
    def uses_twisted(self) -> bool:
        return any(c.cls.uses_twisted for c in self.interfaces)


def fail(problems: Sequence[str], code: int = EXIT_CONFIG) -> int:
    """Print ``problems`` under one ``telephonist: error:`` line; return ``code``."""
    print("telephonist: error:", file=sys.stderr)
    for line in problems:
        print(f"  {line}", file=sys.stderr)
    return code


def plan(config: TelephonistConfig, *, serve: bool, work: bool, only: Sequence[str] | None) -> Plan:
    """Load and validate the plugins this process needs; ``ConfigError`` on problems."""
    names = list(only) if only is not None else list(config.interfaces)
    plugins = discover(names)
    result = Plan(config, worker=work)
    if serve:
        enabled = enabled_interfaces(config.interfaces, plugins, only)
        result.disabled = disabled_reasons(names, enabled, only is None)
        result.interfaces = [c for c in enabled if c.name not in result.disabled]
        result.idle_channels = {
            ch
            for name in result.disabled
            if (p := plugins.get(name)) is not None and p.cls is not None
            for ch in p.cls.event_channels
        }
        if not result.interfaces:
            idle = [f"interfaces.{n}: disabled: {why}" for n, why in result.disabled.items()]
            raise ConfigError(
                [
                    "no interface is enabled: add an [interfaces.<name>] table to telephonist.toml "
                    "(`telephonist interfaces` lists what is installed)",
                    *(idle if only is not None else [i for i in idle if "not configured" not in i]),
                ]
            )
        result.culprits = [c.name for c in result.interfaces if c.plugin.imported_reactor]
    if work:
        if not config.routing:
            raise ConfigError(["routing: not set (a dotted path such as 'myapp.routing.routes')"])
        for name in config.interfaces:
            plugin = plugins.get(name)
            if plugin is not None and plugin.cls is not None:
                result.event_channels.update(plugin.cls.event_channels)
            elif not serve:
                reason = plugin.error if plugin is not None else "not installed"
                log.warning(
                    "interface %s: %s; its event channels are not listened to", name, reason
                )
    return result


def build_layer(config: TelephonistConfig) -> BaseChannelLayer:
    layer_config = config.layer.as_layer_config()
    backend = layer_config["BACKEND"]
    if backend in SHORT_NAMES or str(backend).startswith("telephonist."):
        options = layer_config["CONFIG"]
        user = dict(options.get("channel_capacity") or {})
        # User patterns first: capacity rules are first-match.
        extra = {k: v for k, v in _RUNTIME_CAPACITY.items() if k not in user}
        options["channel_capacity"] = {**user, **extra}
    return make_channel_layer(layer_config)


def run_plan(process: Plan, out: TextIO = sys.stdout) -> int:
    """Run until SIGTERM/SIGINT; returns the exit code."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    reactor: Any = None
    try:
        if process.uses_twisted:
            reactor = install_asyncio_reactor(loop, process.culprits)
        router = Router(process.config.routing) if process.worker else None  # type: ignore[arg-type]
        layer = build_layer(process.config)
    except (ReactorError, InvalidChannelLayerError) as exc:
        loop.close()
        return fail([str(exc)])
    except RoutingError as exc:
        loop.close()
        return fail([f"routing {process.config.routing!r}: {p}" for p in exc.problems])
    if isinstance(layer, InMemoryChannelLayer) and not (process.interfaces and process.worker):
        log.warning(
            "the in-memory layer reaches no other process: this %s will only talk to "
            'itself (use `telephonist run`, or a layer such as BACKEND = "redis")',
            "worker" if process.worker else "server",
        )
    # The process's layer is the project's while it runs: get_channel_layer() in a
    # consumer, a view or a hook returns the very layer the worker and interfaces use.
    if isinstance(layer, InMemoryChannelLayer) and process.interfaces and process.worker:
        idle = sorted(idle_channels(process.interfaces, process.idle_channels))
        if idle:
            worker = process.config.worker
            process.config = process.config.model_copy(
                update={"worker": worker.model_copy(update={"exclude": [*worker.exclude, *idle]})}
            )
    previous = channel_layers.set(DEFAULT_CHANNEL_LAYER, layer)
    try:
        code = loop.run_until_complete(_main(process, layer, router, reactor, out))
    finally:
        channel_layers.set(DEFAULT_CHANNEL_LAYER, previous)
        loop.run_until_complete(loop.shutdown_asyncgens())
        with contextlib.suppress(TimeoutError):  # a hook thread that hangs: not our exit
            loop.run_until_complete(asyncio.wait_for(loop.shutdown_default_executor(), 5))
        if reactor is not None:
            shutdown_reactor(reactor)
        loop.close()
    _exit_despite_stuck_threads(code)
    return code


def _exit_despite_stuck_threads(code: int) -> None:
    """A sync consumer still running after the drain cannot be interrupted, and Python
    would wait for its thread at exit: the stop must stay bounded, so leave without it."""
    stuck = sync_consumers_running()
    if stuck:
        log.warning("%d sync consumers still running after the drain: exiting anyway", stuck)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


async def _main(
    process: Plan, layer: BaseChannelLayer, router: Router | None, reactor: Any, out: TextIO
) -> int:
    config = process.config
    worker = (
        Worker(layer, router, config.worker, config.affinity, extra_channels=process.event_channels)
        if router is not None
        else None
    )
    server = (
        InterfaceServer(layer, process.interfaces, config.server, config.affinity)
        if process.interfaces
        else None
    )
    if reactor is not None:
        start_reactor(reactor)
    status_dir = (
        Path(config.status.socket_dir) if config.status.socket_dir else default_socket_dir()
    )
    snapshot = functools.partial(_snapshot, layer, server, worker)
    endpoint = StatusEndpoint(status_dir, snapshot)
    set_role(_role(server, worker))
    try:
        metrics = Metrics(config.metrics, snapshot, _role(server, worker))
    except ImportError as exc:
        await layer.close()
        return fail([f"metrics: {exc} (install telephonist[metrics])"])
    async with StopSignals() as signals:
        try:
            if worker is not None:
                await worker.start()
            if server is not None:
                await server.start()
        except (StartupError, ConfigError, ValueError, OSError) as exc:
            if worker is not None:
                await worker.stop(drain_timeout=0)
            await layer.close()
            problems = exc.problems if isinstance(exc, ConfigError) else [str(exc)]
            return fail(problems, EXIT_CONFIG if isinstance(exc, ConfigError) else EXIT_FAILURE)
        try:
            await metrics.start()
        except OSError as exc:  # the metrics port is taken: a configuration problem
            await _stop(server, worker)
            await layer.close()
            return fail([f"metrics.port {config.metrics.port}: {exc}"], EXIT_FAILURE)
        try:
            await endpoint.start()
        except OSError as exc:  # e.g. a socket path too long: status is not worth dying for
            log.warning("status socket %s unavailable: %s", endpoint.path, exc)
        announce(out, server, worker, process.disabled, metrics.endpoints())
        # What exists now (modules, routing, configuration, Django's URLconf and
        # middleware...) lives as long as the process. Out of the cyclic collector's
        # view, collections only walk what requests allocate: with a sync Django view
        # the collector's share of the instructions per request fell from 12% to 3%.
        gc.freeze()
        await signals.requested.wait()
        stopping = asyncio.ensure_future(_stop(server, worker))
        forced = asyncio.ensure_future(signals.forced.wait())
        await asyncio.wait({stopping, forced}, return_when=asyncio.FIRST_COMPLETED)
        if not stopping.done():
            stopping.cancel()
            await asyncio.gather(stopping, return_exceptions=True)
        forced.cancel()
        await metrics.stop()
        await endpoint.stop()
        await layer.close()
    print("telephonist: stopped", file=out, flush=True)
    return 0


async def _stop(server: InterfaceServer | None, worker: Worker | None) -> None:
    if server is not None:
        await server.stop()
    if worker is not None:
        await worker.stop()


def _role(server: InterfaceServer | None, worker: Worker | None) -> str:
    if server is not None and worker is not None:
        return "all-in-one"
    return "server" if server is not None else "worker"


def _snapshot(
    layer: BaseChannelLayer, server: InterfaceServer | None, worker: Worker | None
) -> dict[str, Any]:
    parts = [p.status() for p in (server, worker) if p is not None]
    return {"parts": parts, "layer": layer_status(layer)}

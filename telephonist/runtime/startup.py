"""What a process says at start-up: each interface once, where it listens or why not.

Every interface this process could serve gets one line on stdout (scripts and tests
wait for them): ``interface http: http://127.0.0.1:8000``, or ``interface irc:
disabled: no network configured (...)``. An all-in-one worker on the in-memory layer
also leaves out the channels nothing in the process can send (:func:`idle_channels`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from ..consumers.chat_registry import chat_protocols
from ..interfaces.plugins import ConfiguredInterface, installed_names

if TYPE_CHECKING:
    from ..server import InterfaceServer
    from ..worker import Worker

__all__ = ["announce", "disabled_reasons", "idle_channels"]


def disabled_reasons(
    names: Sequence[str],
    enabled: Sequence[ConfiguredInterface],
    every_installed: bool,
) -> dict[str, str]:
    """Why each interface this process could serve is not served: one line each at
    start-up, instead of silence or an endpoint that is not there."""
    running = {c.name: c for c in enabled}
    reasons: dict[str, str] = {}
    for name in names:
        configured = running.get(name)
        if configured is None:
            reasons[name] = "enabled = false in its settings"
            continue
        idle = configured.cls.idle_reason(configured.config)
        if idle:
            reasons[name] = idle
    if every_installed:
        for name in sorted(installed_names() - set(names)):
            reasons[name] = f"not configured (no [interfaces.{name}])"
    return reasons


def idle_channels(interfaces: Sequence[ConfiguredInterface], configured: set[str]) -> set[str]:
    """All-in-one on the in-memory layer, nothing but this process's own interfaces can
    send their protocols' events: a worker listening on the event channels of an
    interface that is not running here (Slack's, say, routed by the chat bridge) would
    only say that it listens to what cannot come. Known without importing the idle
    interfaces: the chat registry's channels, and ``configured``, the event channels of
    the configured interfaces that do not run."""
    running = {c.name for c in interfaces}
    own = {ch for c in interfaces for ch in c.cls.event_channels}
    idle = installed_names() - running
    chat = {
        ch
        for p in chat_protocols()
        if p.name in idle
        for ch in (*p.message_channels, *p.join_channels, *p.leave_channels)
    }
    return (chat | configured) - own


def announce(
    out: TextIO,
    server: InterfaceServer | None,
    worker: Worker | None,
    disabled: dict[str, str],
    metrics: list[str],
) -> None:
    """Where everything listens, on stdout: for the operator, and for scripts to wait on."""
    if server is not None:
        for name, interface in server.interfaces.items():
            where = ", ".join(interface.endpoints()) or "(no endpoint)"
            print(f"interface {name}: {where}", file=out)
    for name, why in disabled.items():
        print(f"interface {name}: disabled: {why}", file=out)
    if worker is not None:
        print(f"worker {worker.prefix}: {', '.join(worker.channels)}", file=out)
    for where in metrics:
        print(f"metrics: {where}", file=out)
    print("telephonist: ready", file=out, flush=True)

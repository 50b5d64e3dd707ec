"""The routing vocabulary: ``route()``, ``route_class()`` and ``include()``.

These only *record* what the user wrote. Nothing is checked or imported here, so a
routing module can be imported anywhere (settings, tests) without side effects; the
``Router`` checks everything at once at start-up and reports every problem together.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._filters import FilterSpec

__all__ = ["Include", "Route", "describe_callable", "include", "route", "route_class"]


@dataclass(frozen=True)
class Route:
    """One consumer for one or more channels, with optional filters."""

    channels: tuple[str, ...]
    consumer: Callable[..., Any]
    filters: tuple[tuple[str, FilterSpec], ...] = ()
    kind: str = "route"
    #: A problem found while recording (``route_class`` on a class without channels);
    #: reported by the Router with the others rather than raised at import time.
    problem: str | None = field(default=None, compare=False)

    def describe(self) -> str:
        shown: object = self.channels[0] if len(self.channels) == 1 else list(self.channels)
        target = describe_callable(self.consumer)
        return f"{self.kind}({shown!r}, {target}{_describe_filters(self.filters)})"


@dataclass(frozen=True)
class Include:
    """Nested routing, entered only when every prefix filter matches."""

    routing: Sequence[Route | Include] | str
    prefix_filters: tuple[tuple[str, FilterSpec], ...] = ()

    def describe(self) -> str:
        shown = repr(self.routing) if isinstance(self.routing, str) else "[...]"
        return f"include({shown}{_describe_filters(self.prefix_filters)})"


def route(channels: str | Iterable[str], consumer: Callable[..., Any], **filters: str) -> Route:
    """Route messages on ``channels`` that pass ``filters`` to ``consumer``.

    ``route("websocket.receive", echo, path=r"^/echo/(?P<room>\\w+)/$")`` calls
    ``echo(message, room=...)`` for WebSocket frames on matching paths.
    """
    names = (channels,) if isinstance(channels, str) else tuple(channels)
    return Route(names, consumer, tuple(filters.items()))


def route_class(consumer_class: type, **filters: str) -> Route:
    """Route a class-based consumer on the channels it declares.

    The channels come from ``consumer_class.channel_names()`` if it has one, else from
    its ``channels`` attribute; the consumer is ``consumer_class.as_consumer()`` if it
    has one, else the class itself (called as ``consumer_class(message, **kwargs)``).
    """
    problem = None
    names: tuple[str, ...] = ()
    try:
        getter = getattr(consumer_class, "channel_names", None)
        declared = getter() if callable(getter) else getattr(consumer_class, "channels", None)
        if not declared or isinstance(declared, str | bytes):
            problem = "declares no channels (set `channels = [...]` or define channel_names())"
        else:
            names = tuple(sorted(declared))
    except Exception as exc:  # user code: report it as a routing problem, with the cause
        problem = f"channel_names() raised {type(exc).__name__}: {exc}"
    as_consumer = getattr(consumer_class, "as_consumer", None)
    consumer = as_consumer() if callable(as_consumer) else consumer_class
    return Route(names, consumer, tuple(filters.items()), "route_class", problem)


def include(routing: Sequence[Route | Include] | str, **prefix_filters: str) -> Include:
    """Nest ``routing`` (a list, or a dotted path to one) under prefix filters.

    The part of each key matched by a prefix filter is stripped before the nested
    routes match: ``include("chat.routing", path=r"^/chat")`` lets a nested
    ``route(..., path=r"^/room/$")`` match ``/chat/room/``.
    """
    return Include(routing, tuple(prefix_filters.items()))


def _describe_filters(filters: tuple[tuple[str, FilterSpec], ...]) -> str:
    parts = []
    for key, spec in filters:
        shown = spec.pattern if isinstance(spec, re.Pattern) else spec
        parts.append(f", {key}={shown!r}")
    return "".join(parts)


def describe_callable(consumer: object) -> str:
    """``package.module.name`` of a consumer, for logs and errors."""
    cls = getattr(consumer, "consumer_class", None)
    if isinstance(cls, type):
        consumer = cls
    if isinstance(consumer, functools.partial):
        return f"partial({describe_callable(consumer.func)})"
    module = getattr(consumer, "__module__", None)
    name = getattr(consumer, "__qualname__", None) or getattr(consumer, "__name__", None)
    if isinstance(module, str) and isinstance(name, str):
        return f"{module}.{name}"
    return repr(consumer)

"""``Router``: checks a routing tree once at start-up, then matches messages fast.

Theory of operation
-------------------
The routing the user writes is a tree (lists of ``route()`` nested by ``include()``). At
construction the Router walks it once, resolving dotted paths, compiling every regex and
checking that each consumer can take the keyword arguments its named groups produce. Any
problem is collected; if there is one, ``RoutingError`` lists them all, each naming the
route, so a worker refuses to start rather than failing on the first message.

The tree is then flattened into *entries*: one per route, carrying the filter stages of
every enclosing include followed by its own. Entries are indexed by channel, in routing
order, so ``match`` only tries routes that listen on the message's channel and the first
one whose stages all pass wins, as in Channels 1.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.names import require_valid_channel_name
from ._filters import Stage, compile_stage, match_stages
from ._routes import Include, Route

__all__ = ["Match", "Router", "RoutingError", "load_routing"]

_MAX_DEPTH = 32  # deeper than any real routing: beyond it, includes surely form a cycle


class RoutingError(Exception):
    """The routing cannot be used; ``problems`` lists each problem with its route."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("bad routing:\n  " + "\n  ".join(self.problems))


@dataclass(frozen=True)
class Match:
    """What a message is routed to: call ``consumer(message, **kwargs)``."""

    consumer: Callable[..., Any]
    kwargs: dict[str, str]
    route: str  # human description, for logs


@dataclass(frozen=True, slots=True)
class _Entry:
    stages: tuple[Stage, ...]
    consumer: Callable[..., Any]
    description: str


class Router:
    """Routing checked and indexed; ``Router("myapp.routing")`` or ``Router([...])``."""

    def __init__(self, routing: Sequence[Route | Include] | str) -> None:
        problems: list[str] = []
        self._by_channel: dict[str, list[_Entry]] = {}
        self._descriptions: list[str] = []
        self._consumers: dict[int, object] = {}  # by id: consumers need not be hashable
        self._walk(routing, (), "", 0, problems)
        if problems:
            raise RoutingError(problems)
        self.channels: frozenset[str] = frozenset(self._by_channel)
        #: Every routed consumer once, in routing order (for status: see
        #: :meth:`telephonist.worker.dispatch.Dispatcher.describe`).
        self.consumers: tuple[object, ...] = tuple(self._consumers.values())

    def match(self, channel: str, content: Mapping[str, Any]) -> Match | None:
        """The first route on ``channel`` whose filters all pass, or ``None``."""
        for entry in self._by_channel.get(channel, ()):
            kwargs = match_stages(entry.stages, content)
            if kwargs is not None:
                return Match(entry.consumer, kwargs, entry.description)
        return None

    def describe(self) -> list[str]:
        """Every route, in matching order, as it appears in logs."""
        return list(self._descriptions)

    # -- construction -----------------------------------------------------------------

    def _walk(
        self,
        routing: object,
        stages: tuple[Stage, ...],
        trail: str,
        depth: int,
        problems: list[str],
    ) -> None:
        where = trail or "routing"
        if depth > _MAX_DEPTH:
            problems.append(f"{where}: includes nested over {_MAX_DEPTH} deep (a cycle?)")
            return
        if isinstance(routing, str):
            try:
                routing = load_routing(routing)
            except LookupError as exc:
                problems.append(f"{where}: {exc}")
                return
        if not isinstance(routing, Sequence) or isinstance(routing, str | bytes):
            problems.append(f"{where}: expected a list of route()/include(), got {routing!r}")
            return
        for index, item in enumerate(routing):
            if isinstance(item, Route):
                self._add_route(item, stages, trail, problems)
            elif isinstance(item, Include):
                stage, found = compile_stage(dict(item.prefix_filters), strip=True)
                label = f"{trail} > {item.describe()}" if trail else item.describe()
                problems.extend(f"{label}: {p}" for p in found)
                self._walk(item.routing, (*stages, stage), label, depth + 1, problems)
            else:
                problems.append(
                    f"{where}, item {index}: {item!r} is not a route(), route_class() or include()"
                )

    def _add_route(
        self, item: Route, stages: tuple[Stage, ...], trail: str, problems: list[str]
    ) -> None:
        label = f"{trail} > {item.describe()}" if trail else item.describe()
        found: list[str] = []
        if item.problem:
            found.append(item.problem)
        if not item.channels and not item.problem:
            found.append("names no channel")
        for name in item.channels:
            try:
                require_valid_channel_name(name)
            except TypeError as exc:
                found.append(str(exc))
                continue
            if "!" in name:
                found.append(f"{name!r} is process-specific; only shared channels are routed")
        consumer: object = item.consumer  # typed callable, but user input: check it
        if not callable(consumer):
            found.append(f"consumer {consumer!r} is not callable")
        stage, bad_filters = compile_stage(dict(item.filters), strip=False)
        found.extend(bad_filters)
        all_stages = (*stages, stage)
        if callable(consumer) and not bad_filters:
            found.extend(_check_signature(consumer, all_stages))
        if found:
            problems.extend(f"{label}: {p}" for p in found)
            return
        entry = _Entry(all_stages, item.consumer, label)
        self._descriptions.append(label)
        self._consumers.setdefault(id(item.consumer), item.consumer)
        for name in item.channels:
            self._by_channel.setdefault(name, []).append(entry)


def _check_signature(consumer: Callable[..., Any], stages: tuple[Stage, ...]) -> list[str]:
    """Can ``consumer(message, **groups)`` be called with every named group it may get?"""
    groups = {name for stage in stages for _, p in stage.patterns for name in p.groupindex}
    try:
        signature = inspect.signature(consumer)
    except (TypeError, ValueError):  # builtins and C callables: nothing to check
        return []
    try:
        signature.bind(None, **dict.fromkeys(groups, ""))
    except TypeError as exc:
        shown = ", ".join(f"{g}=..." for g in sorted(groups))
        call = f"consumer(message{', ' if shown else ''}{shown})"
        return [f"the consumer cannot be called as {call}: {exc}"]
    return []


def load_routing(path: str) -> object:
    """Resolve a dotted path to a routing list.

    ``"pkg.mod.attr"`` is that attribute; ``"pkg.mod"`` is the module's ``routing`` or,
    as in Channels 1, ``channel_routing``. ``LookupError`` says what is missing.
    """
    try:
        module = importlib.import_module(path)
    except ModuleNotFoundError as exc:
        if exc.name is None or not (path == exc.name or path.startswith(exc.name + ".")):
            raise LookupError(f"importing {path!r} failed: {exc}") from exc
    except Exception as exc:  # the user's module itself is broken: say so, with the cause
        raise LookupError(f"importing {path!r} failed: {type(exc).__name__}: {exc}") from exc
    else:
        for attr in ("routing", "channel_routing"):
            if hasattr(module, attr):
                return getattr(module, attr)
        raise LookupError(f"module {path!r} has no `routing` or `channel_routing` list")
    module_name, _, attr = path.rpartition(".")
    if not module_name:
        raise LookupError(f"{path!r} is not an importable module or module.attribute path")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise LookupError(f"importing {module_name!r} failed: {type(exc).__name__}: {exc}") from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise LookupError(
            f"{path!r} is neither a module nor an attribute: "
            f"module {module_name!r} has no attribute {attr!r}"
        ) from None

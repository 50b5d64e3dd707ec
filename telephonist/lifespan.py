"""What every runtime process (interface server or worker) does over its life besides
its work: run the lifespan hooks named in the configuration, and stay in the status
group so ``telephonist status`` reaches it over the layer.

Both kinds of process need these, so they live below both (``telephonist.server`` and
``telephonist.worker`` import this module, never each other).

A hook takes one argument, a :class:`Lifespan`, and may be sync or async. Sync hooks run
in a thread so a slow one (opening a database pool) cannot stall the shared event loop.
A start-up hook that raises stops the process from starting (better than serving half
set up); a shut-down hook that raises is logged and the others still run.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from .affinity import control
from .config.errors import ConfigError
from .core.base import BaseChannelLayer

__all__ = ["Hook", "Lifespan", "keep_status_membership", "load_hooks", "resolve", "run_hooks"]

log = logging.getLogger("telephonist.lifespan")

Hook = Callable[["Lifespan"], Any]


@dataclass(frozen=True)
class Lifespan:
    """What a hook is told: which phase, of which part, and the layer it may use."""

    phase: Literal["startup", "shutdown"]
    process: Literal["host", "worker"]
    layer: BaseChannelLayer
    interface: str | None = None


def resolve(path: str) -> Any:
    """``"pkg.mod:attr"`` or ``"pkg.mod.attr"`` -> the object; ``LookupError`` if absent."""
    module_name, sep, attr = path.partition(":")
    if not sep:
        module_name, _, attr = path.rpartition(".")
    if not module_name or not attr:
        raise LookupError(f"{path!r} is not a dotted path like 'package.module.name'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise LookupError(f"cannot import {module_name!r} for {path!r}: {exc}") from exc
    obj = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise LookupError(f"{module_name!r} has no attribute {attr!r}") from None
    return obj


def load_hooks(paths: Iterable[str], where: str) -> list[Hook]:
    """Import every hook up front, so a typo fails at start-up naming its setting."""
    hooks: list[Hook] = []
    problems = []
    for path in paths:
        try:
            hook = resolve(path)
        except LookupError as exc:
            problems.append(f"{where}: {exc}")
            continue
        if not callable(hook):
            problems.append(f"{where}: {path!r} is not callable")
            continue
        hooks.append(hook)
    if problems:
        raise ConfigError(problems)
    return hooks


async def run_hooks(hooks: Iterable[Hook], lifespan: Lifespan) -> None:
    """Run hooks in order; start-up errors propagate, shut-down errors are logged."""
    for hook in hooks:
        name = getattr(hook, "__qualname__", repr(hook))
        try:
            if inspect.iscoroutinefunction(hook):
                await hook(lifespan)
            else:
                result = await asyncio.to_thread(hook, lifespan)
                if inspect.isawaitable(result):
                    await result
        except Exception:
            if lifespan.phase == "startup":
                raise
            log.exception("%s hook %s failed", lifespan.phase, name)


async def keep_status_membership(layer: BaseChannelLayer, channel: str) -> None:
    """Stay in the status group for the process's life. Memberships lapse after the
    layer's ``group_expiry``; refreshing at half of it costs one command per half-day
    with the default, so an idle process stays (nearly) silent."""
    interval = max(1.0, layer.group_expiry / 2)
    while True:
        try:
            await layer.group_add(control.STATUS_GROUP, channel)
        except NotImplementedError:
            return  # a layer without groups: status works through local sockets only
        except Exception as exc:  # the layer reconnects; try again next time
            log.warning("could not join the status group: %s", exc)
        await asyncio.sleep(interval)

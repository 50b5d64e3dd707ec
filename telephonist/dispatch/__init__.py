"""Deprecated: the Dispatcher moved to :mod:`telephonist.worker.dispatch` (in tests,
``Outcome`` comes from :mod:`telephonist.testing`), and ``register_protocol_policy``
lives in :mod:`telephonist.routing`. The old names still work and warn.

A package rather than a module of the old name: the module itself moved, and this
keeps its old path free so its history follows it."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from ..core.deprecation import deprecated_names

_MOVED = {
    "CONSUME_LATER_KEY": "telephonist.worker.dispatch",
    "Dispatcher": "telephonist.worker.dispatch",
    "Outcome": "telephonist.worker.dispatch",
    "Requeue": "telephonist.worker.dispatch",
    "register_protocol_policy": "telephonist.routing",
}


def _getter(name: str, where: str) -> Callable[[], object]:
    return lambda: getattr(importlib.import_module(where), name)


__getattr__ = deprecated_names(
    __name__, {name: (f"{where}.{name}", _getter(name, where)) for name, where in _MOVED.items()}
)

"""Deprecated: the interface server moved to :mod:`telephonist.server` (and ``Lifespan``
to :mod:`telephonist.lifespan`). The old names still work and warn."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from ..core.deprecation import deprecated_names

_MOVED = {
    "InterfaceServer": "telephonist.server",
    "StartupError": "telephonist.server",
    "ReactorError": "telephonist.server",
    "install_asyncio_reactor": "telephonist.server",
    "Lifespan": "telephonist.lifespan",
}


def _getter(name: str, where: str) -> Callable[[], object]:
    return lambda: getattr(importlib.import_module(where), name)


__getattr__ = deprecated_names(
    __name__, {name: (f"{where}.{name}", _getter(name, where)) for name, where in _MOVED.items()}
)

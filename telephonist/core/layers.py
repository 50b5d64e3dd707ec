"""Public channel-layer API: the layer classes, exceptions and ``get_channel_layer``.

``get_channel_layer`` takes the same ``{"BACKEND": ..., "CONFIG": {...}}`` mapping as a
Channels ``CHANNEL_LAYERS`` entry. ``BACKEND`` is a dotted path or one of the short names
``memory`` and ``redis``. A backend that is not a Telephonist layer (``channels_redis``,
Channels' in-memory layer) is wrapped so it gains the batch operations.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from .adapter import ChannelsLayerAdapter
from .base import BaseChannelLayer
from .codec import Message
from .exceptions import ChannelFull, InvalidChannelLayerError, LayerUnavailable, MessageTooLarge
from .memory import InMemoryChannelLayer
from .sync import SyncLayer

__all__ = [
    "BaseChannelLayer",
    "ChannelFull",
    "ChannelsLayerAdapter",
    "InMemoryChannelLayer",
    "InvalidChannelLayerError",
    "LayerUnavailable",
    "Message",
    "MessageTooLarge",
    "SyncLayer",
    "get_channel_layer",
]

SHORT_NAMES = {
    "memory": "telephonist.core.memory.InMemoryChannelLayer",
    "redis": "telephonist.core.redis.RedisChannelLayer",
}

DEFAULT_CONFIG: Mapping[str, Any] = {"BACKEND": "memory"}


def _import(path: str) -> Any:
    module_name, _, attr = path.rpartition(".")
    if not module_name:
        raise InvalidChannelLayerError(f"BACKEND {path!r} is not a dotted path or short name")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        hint = " (install telephonist[redis])" if path == SHORT_NAMES["redis"] else ""
        raise InvalidChannelLayerError(f"cannot import BACKEND {path!r}{hint}: {exc}") from exc


def get_channel_layer(config: Mapping[str, Any] | None = None) -> BaseChannelLayer:
    """Build a layer from ``{"BACKEND": ..., "CONFIG": {...}}`` (default: in-memory)."""
    config = DEFAULT_CONFIG if config is None else config
    unknown = set(config) - {"BACKEND", "CONFIG", "TEST_CONFIG"}
    if unknown:
        raise InvalidChannelLayerError(f"unknown layer setting(s): {', '.join(sorted(unknown))}")
    backend = config.get("BACKEND")
    if not isinstance(backend, str):
        raise InvalidChannelLayerError(f"layer BACKEND must be a string, got {backend!r}")
    cls = _import(SHORT_NAMES.get(backend, backend))
    options = dict(config.get("CONFIG") or {})
    try:
        layer = cls(**options)
    except TypeError as exc:
        raise InvalidChannelLayerError(f"bad CONFIG for {backend}: {exc}") from exc
    if isinstance(layer, BaseChannelLayer):
        return layer
    return ChannelsLayerAdapter(layer)

"""Public channel-layer API: the layer classes, exceptions, the project's layers and the
builder.

``get_channel_layer(alias="default")`` is Channels' function: the layer the project is
configured with, the same object for every caller in the process. That is the running
process's layer once the runtime has one (a worker, an interface server, ``runserver``:
``channel_layers.set`` by the runtime), else the layer built once, on first use, from the
project's settings: Django's (``TELEPHONIST['layer']`` or ``CHANNEL_LAYERS``, once the
``telephonist.django`` app is ready), else ``telephonist.toml`` and ``TELEPHONIST_*``
variables. So a view, a management command and a shell push to the rooms the workers
serve, and an unknown alias is an error rather than Channels' ``None``.

``make_channel_layer`` builds a fresh layer from the same ``{"BACKEND": ..., "CONFIG":
{...}}`` mapping as a Channels ``CHANNEL_LAYERS`` entry. ``BACKEND`` is a dotted path or
one of the short names ``memory`` and ``redis``. A backend that is not a Telephonist
layer (``channels_redis``, Channels' in-memory layer) is wrapped so it gains the batch
operations.

``RedisChannelLayer`` is exported too, lazily: importing this module never imports
redis-py, which only the ``redis`` extra installs; naming the class without that extra
raises an ``ImportError`` that says which extra to install.
"""

from __future__ import annotations

import importlib
import threading
import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, overload

from .adapter import ChannelsLayerAdapter
from .base import BaseChannelLayer
from .codec import Content
from .deprecation import deprecated_names
from .exceptions import ChannelFull, InvalidChannelLayerError, LayerUnavailable, MessageTooLarge
from .memory import InMemoryChannelLayer
from .sync import SyncLayer

if TYPE_CHECKING:
    from .redis import RedisChannelLayer as RedisChannelLayer

# ``RedisChannelLayer`` is left out on purpose: ``import *`` must work without the extra.
__all__ = [
    "DEFAULT_CHANNEL_LAYER",
    "BaseChannelLayer",
    "ChannelFull",
    "ChannelLayerManager",
    "ChannelsLayerAdapter",
    "Content",
    "InMemoryChannelLayer",
    "InvalidChannelLayerError",
    "LayerSettings",
    "LayerUnavailable",
    "MessageTooLarge",
    "SyncLayer",
    "channel_layers",
    "get_channel_layer",
    "make_channel_layer",
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


def make_channel_layer(config: Mapping[str, Any] | None = None) -> BaseChannelLayer:
    """Build a new layer from ``{"BACKEND": ..., "CONFIG": {...}}`` (default: in-memory)."""
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


DEFAULT_CHANNEL_LAYER = "default"

#: alias -> ``{"BACKEND": ..., "CONFIG": {...}}``, the shape of Channels' ``CHANNEL_LAYERS``.
LayerSettings = Mapping[str, Mapping[str, Any]]


def _telephonist_settings() -> LayerSettings:
    """The layer of ``telephonist.toml`` and ``TELEPHONIST_*`` variables, as ``default``."""
    # Imported here, not at the top: the configuration package sits beside the core
    # (it imports nothing of Telephonist) and is only read when a project layer is
    # first asked for, not by every process that builds its own layers.
    from ..config import ConfigError, load_config

    try:
        config = load_config()
    except ConfigError as exc:
        raise InvalidChannelLayerError(f"cannot read the project's layer: {exc}") from exc
    return {DEFAULT_CHANNEL_LAYER: config.layer.as_layer_config()}


class ChannelLayerManager:
    """Channels' ``channel_layers``: the project's layers by alias, each built once.

    ``source`` returns the project's layer settings (``LayerSettings``); it is read once,
    on first use. ``configure`` changes it (the Django app points it at Django's
    settings when it is ready); ``set`` installs a layer directly (the runtime installs
    the one it runs on; tests swap in their own).
    """

    def __init__(self, source: Callable[[], LayerSettings] | None = None) -> None:
        self.backends: dict[str, BaseChannelLayer] = {}
        self._source = source
        self._settings: LayerSettings | None = None
        self._lock = threading.Lock()

    def configure(self, source: Callable[[], LayerSettings] | None) -> None:
        """Read settings from ``source`` from now on (``None``: ``telephonist.toml`` and
        the environment). Layers already built or set are kept."""
        with self._lock:
            self._source = source
            self._settings = None

    @property
    def configs(self) -> LayerSettings:
        with self._lock:
            return self._read_settings()

    def _read_settings(self) -> LayerSettings:
        if self._settings is None:
            self._settings = dict((self._source or _telephonist_settings)())
        return self._settings

    def __getitem__(self, alias: str) -> BaseChannelLayer:
        with self._lock:
            layer = self.backends.get(alias)
            if layer is None:
                settings = self._read_settings()
                if alias not in settings:
                    known = ", ".join(sorted(settings)) or "none"
                    raise InvalidChannelLayerError(
                        f"no channel layer {alias!r} is configured (configured: {known})"
                    )
                layer = self.backends[alias] = make_channel_layer(settings[alias])
            return layer

    def __contains__(self, alias: object) -> bool:
        return alias in self.backends or alias in self.configs

    def set(self, alias: str, layer: BaseChannelLayer | None) -> BaseChannelLayer | None:
        """Make ``layer`` the project's layer ``alias`` (``None``: forget it, so the next
        use builds it from the settings again); returns the one it replaces."""
        with self._lock:
            old = self.backends.pop(alias, None)
            if layer is not None:
                self.backends[alias] = layer
            return old


channel_layers = ChannelLayerManager()


@overload
def get_channel_layer(alias: str = DEFAULT_CHANNEL_LAYER) -> BaseChannelLayer: ...


@overload
def get_channel_layer(alias: Mapping[str, Any] | None) -> BaseChannelLayer: ...


def get_channel_layer(
    alias: str | Mapping[str, Any] | None = DEFAULT_CHANNEL_LAYER,
) -> BaseChannelLayer:
    """The project's layer ``alias`` (see the module doc); the same object on every call.

    Async code awaits it; sync code (a view, a command) goes through the blocking facade,
    ``telephonist.core.sync.sync_layer(get_channel_layer())``. Given a ``{"BACKEND":
    ...}`` mapping (its meaning before it followed Channels), it builds a new layer and
    warns: that is ``make_channel_layer``.
    """
    if isinstance(alias, str):
        return channel_layers[alias]
    warnings.warn(
        "get_channel_layer(config) is deprecated: it now returns the project's layer by "
        "alias, as in Channels; build a new layer with make_channel_layer(config)",
        DeprecationWarning,
        stacklevel=2,
    )
    return make_channel_layer(alias)


if TYPE_CHECKING:
    Message = Content  # the dict alias's old name, served with a warning by ``__getattr__``


def _redis_layer() -> type[BaseChannelLayer]:
    try:
        from .redis import RedisChannelLayer
    except ImportError as exc:
        raise ImportError(
            f"RedisChannelLayer needs the redis extra: pip install 'telephonist[redis]' ({exc})"
        ) from exc
    return RedisChannelLayer


__getattr__ = deprecated_names(
    __name__,
    {"Message": ("telephonist.core.layers.Content", lambda: Content)},
    lazy={"RedisChannelLayer": _redis_layer},
)

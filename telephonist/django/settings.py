"""Telephonist's configuration from a Django project's settings.

Theory of operation
-------------------
A Django project configures Telephonist in ``settings.TELEPHONIST``: the same keys as
``telephonist.toml`` (``routing``, ``layer``, ``interfaces``, ``server``, ``worker``,
``affinity``, ``status``, ``log_format``, ``log_level``), as a dict. It is plugged into
:func:`telephonist.config.load_config` as a *source*, the seam that module keeps for
Django: the lowest layer above the defaults, so a ``telephonist.toml``, ``TELEPHONIST_*``
environment variables and ``--set`` still override one key at a time on a deployed
machine, exactly as for ``telephonist run``. One model, one validation, one set of
error messages.

A project moving from Channels keeps ``CHANNEL_LAYERS``: its ``default`` entry is the
layer unless ``TELEPHONIST`` names one, and a Channels 1 ``ROUTING`` key is the routing
unless ``TELEPHONIST`` names one. Channels 1 backends that no longer exist map to
their Telephonist equivalents (``asgi_redis`` -> ``redis``, ``asgiref.inmemory`` ->
``memory``), and so does ``channels_redis`` (both of its layers -> ``redis``, which takes
its ``CONFIG`` as written), with a log line saying so: inside Telephonist's processes
``channels_redis`` lost messages and stalled shutdowns (issue 18), and Telephonist's
Redis layer is the one its workers are built and tested on.

With no ``interfaces`` key, a Django project gets the ``http`` interface (HTTP and
WebSocket), which is what ``runserver`` has always served.

WebSocket origins default to the project's hosts: unless ``TELEPHONIST`` sets
``allowed_origins`` or ``allowed_hosts`` of ``interfaces.http.websocket``, sockets are
accepted from pages of ``ALLOWED_HOSTS`` only (with ``DEBUG`` and an empty
``ALLOWED_HOSTS``, Django's own ``.localhost``, ``127.0.0.1`` and ``[::1]``), as Channels'
``AllowedHostsOriginValidator`` does. Outside Django the default stays ``["*"]``
(``docs/security.md`` says why and what to set). A ``telephonist.toml``, environment
variable or ``--set`` still overrides it, as any other key.

``django_layer_settings`` is the same layer seen from
``telephonist.core.layers.get_channel_layer()``: the app points the project's layers at
it once Django is ready, so a view, a command or a shell reaches the layer the workers
serve (``default``), plus any other ``CHANNEL_LAYERS`` alias as it is written.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from ..config import ConfigError, TelephonistConfig, load_config

__all__ = [
    "CHANNELS_1_BACKENDS",
    "DEFAULT_INTERFACES",
    "MAPPED_BACKENDS",
    "django_layer_settings",
    "django_source",
    "effective_allowed_hosts",
    "load_django_config",
    "log_replaced_backends",
    "mapped_backend",
    "setting_path",
]

#: Channels 1 backends whose packages are gone, and what replaces them.
CHANNELS_1_BACKENDS = {
    "asgi_redis.RedisChannelLayer": "redis",
    "asgi_redis.core.RedisChannelLayer": "redis",
    "asgiref.inmemory.ChannelLayer": "memory",
    "channels.layers.InMemoryChannelLayer": "memory",
}

#: Backends Telephonist replaces with its own, saying so once: Channels 1's, and
#: ``channels_redis`` (see the module doc).
MAPPED_BACKENDS = {
    **CHANNELS_1_BACKENDS,
    "channels_redis.core.RedisChannelLayer": "redis",
    "channels_redis.pubsub.RedisPubSubChannelLayer": "redis",
}

#: What :func:`mapped_backend` replaced, for the commands to log once logging is set up.
replaced_backends: dict[str, str] = {}


def mapped_backend(backend: object) -> object:
    """The backend Telephonist uses for ``backend`` as written in ``CHANNEL_LAYERS``."""
    replacement = MAPPED_BACKENDS.get(str(backend))
    if replacement is None:
        return backend
    replaced_backends[str(backend)] = replacement
    return replacement


def log_replaced_backends() -> None:
    """One line per backend of ``CHANNEL_LAYERS`` that Telephonist replaced."""
    log = logging.getLogger("telephonist.django")
    for backend, replacement in sorted(replaced_backends.items()):
        log.info(
            "CHANNEL_LAYERS names %s: Telephonist's %r layer serves it, with its CONFIG",
            backend,
            replacement,
        )


DEFAULT_INTERFACES: Mapping[str, Mapping[str, Any]] = {"http": {}}

# "host": the deprecated name of "server" (renamed by the configuration loader).
_SECTIONS = {"routing", "layer", "interfaces", "server", "host", "worker", "affinity", "status"}


def setting_path(dotted: str) -> str:
    """``interfaces.http.endpoints`` -> ``TELEPHONIST['interfaces']['http']['endpoints']``,
    the way a Django developer finds the key in ``settings.py``."""
    parts = [p for p in dotted.split(".") if p]
    return "TELEPHONIST" + "".join(f"[{p!r}]" for p in parts)


def _lower_keys(value: Mapping[str, Any]) -> dict[str, Any]:
    # Django settings are conventionally upper case (``"ROUTING"``); the model's keys
    # are lower case. Only the top level and plain sections are folded: interface
    # options are the plugin's own names, and the layer keeps BACKEND/CONFIG.
    out: dict[str, Any] = {}
    for key, item in value.items():
        name = key.lower() if isinstance(key, str) else key
        if name == "layer" and isinstance(item, Mapping):
            item = {k.upper() if isinstance(k, str) else k: v for k, v in item.items()}
        elif name in _SECTIONS - {"layer", "interfaces"} and isinstance(item, Mapping):
            item = {k.lower() if isinstance(k, str) else k: v for k, v in item.items()}
        out[name] = item
    return out


def _from_channel_layers(layers: object, tree: dict[str, Any]) -> list[str]:
    """Fill ``layer``/``routing`` from ``CHANNEL_LAYERS['default']``; returns problems."""
    if not isinstance(layers, Mapping):
        return [f"CHANNEL_LAYERS: expected a dict of layers, got {type(layers).__name__}"]
    if not layers:
        return []
    default = layers.get("default")
    if not isinstance(default, Mapping):
        return ["CHANNEL_LAYERS: has no 'default' entry (Telephonist uses that one)"]
    if "layer" not in tree:
        backend = default.get("BACKEND")
        layer: dict[str, Any] = {"BACKEND": mapped_backend(backend)}
        if default.get("CONFIG") is not None:
            layer["CONFIG"] = default["CONFIG"]
        tree["layer"] = layer
    if "routing" not in tree and default.get("ROUTING"):
        tree["routing"] = default["ROUTING"]
    return []


def django_source() -> dict[str, Any]:
    """The configuration tree of ``settings.TELEPHONIST`` and ``CHANNEL_LAYERS``.

    ``ConfigError`` when a setting has the wrong shape; values are checked by the model.
    """
    from django.conf import settings

    raw = getattr(settings, "TELEPHONIST", None)
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError([f"TELEPHONIST: expected a dict, got {type(raw).__name__}"])
    tree = _lower_keys(raw)
    problems = _from_channel_layers(getattr(settings, "CHANNEL_LAYERS", {}), tree)
    if problems:
        raise ConfigError(problems)
    tree.setdefault("interfaces", {k: dict(v) for k, v in DEFAULT_INTERFACES.items()})
    _origins_from_allowed_hosts(tree)
    return tree


#: What Django's request handling allows when ``DEBUG`` is on and ``ALLOWED_HOSTS`` empty.
_DEBUG_HOSTS = [".localhost", "127.0.0.1", "[::1]"]


def effective_allowed_hosts() -> list[str]:
    """``ALLOWED_HOSTS`` as Django applies it to requests."""
    from django.conf import settings

    hosts = [str(h) for h in getattr(settings, "ALLOWED_HOSTS", [])]
    if not hosts and getattr(settings, "DEBUG", False):
        return list(_DEBUG_HOSTS)
    return hosts


def _origins_from_allowed_hosts(tree: dict[str, Any]) -> None:
    """The project's WebSocket origin default (see the module docstring)."""
    interfaces = tree.get("interfaces")
    http = interfaces.get("http") if isinstance(interfaces, dict) else None
    if not isinstance(http, Mapping):
        return
    websocket = http.get("websocket", {})
    if not isinstance(websocket, Mapping):
        return  # a wrong shape: the model says so
    if "allowed_origins" in websocket or "allowed_hosts" in websocket:
        return
    assert isinstance(interfaces, dict)
    interfaces["http"] = {
        **http,
        "websocket": {
            **websocket,
            "allowed_origins": [],
            "allowed_hosts": effective_allowed_hosts(),
        },
    }


def load_django_config(overrides: Iterable[str] = (), path: str | None = None) -> TelephonistConfig:
    """The full configuration a ``manage.py`` command runs with: Django's settings, then
    ``telephonist.toml`` (or ``path``), ``TELEPHONIST_*`` variables and ``overrides``."""
    return load_config(path, overrides=overrides, sources=[django_source])


def django_layer_settings() -> dict[str, dict[str, Any]]:
    """alias -> ``{"BACKEND", "CONFIG"}``: ``default`` exactly as ``runworker`` builds it
    (``TELEPHONIST['layer']`` or ``CHANNEL_LAYERS['default']``, then ``telephonist.toml``
    and ``TELEPHONIST_*`` variables), the other ``CHANNEL_LAYERS`` aliases as written."""
    from django.conf import settings

    layers: dict[str, dict[str, Any]] = {}
    declared = getattr(settings, "CHANNEL_LAYERS", None)
    if isinstance(declared, Mapping):
        for alias, entry in declared.items():
            if alias != "default" and isinstance(entry, Mapping):
                backend = entry.get("BACKEND")
                layers[alias] = {
                    "BACKEND": mapped_backend(backend),
                    "CONFIG": dict(entry.get("CONFIG") or {}),
                }
    layers["default"] = load_django_config().layer.as_layer_config()
    return layers

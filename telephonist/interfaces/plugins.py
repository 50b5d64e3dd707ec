"""Finding interface plugins and validating their configuration.

Theory of operation
-------------------
Every interface, built-in or third-party, is an entry point in the ``telephonist.interfaces``
group (``linechat = "telephonist_linechat:LineChatInterface"``). :func:`discover` loads
them all and never raises: a plugin that fails to import, or whose class breaks the
contract, comes back with ``error`` set, so ``telephonist interfaces`` can list it and a
server that does not enable it keeps going. Only enabling a broken plugin is fatal.

:func:`configure` validates one interface's options with its own ``config_model``. Two
keys are the runtime's, not the plugin's, and are taken out first: ``on_startup`` and
``on_shutdown`` (dotted callables, see :mod:`telephonist.lifespan`).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from pydantic import BaseModel, ValidationError

from ..config.describe import Option, describe_model
from ..config.errors import ConfigError, describe_validation_error
from .base import Interface, InterfaceConfig

__all__ = [
    "GROUP",
    "RUNTIME_KEYS",
    "ConfiguredInterface",
    "InterfacePlugin",
    "configure",
    "describe_options",
    "discover",
    "enabled_interfaces",
    "installed_names",
    "options_of",
]

GROUP = "telephonist.interfaces"
RUNTIME_KEYS = ("on_startup", "on_shutdown")
_REACTOR = "twisted.internet.reactor"


@dataclass(frozen=True)
class InterfacePlugin:
    """One entry point: its class when it loads and keeps the contract, else ``error``."""

    name: str
    target: str
    distribution: str
    cls: type[Interface] | None = None
    error: str | None = None
    #: This plugin's import installed Twisted's default reactor (see host.reactor).
    imported_reactor: bool = False


@dataclass(frozen=True)
class ConfiguredInterface:
    plugin: InterfacePlugin
    cls: type[Interface]
    config: InterfaceConfig
    on_startup: tuple[str, ...] = ()
    on_shutdown: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.plugin.name


def _check_class(name: str, obj: object) -> str | None:
    if not (isinstance(obj, type) and issubclass(obj, Interface)):
        return f"{obj!r} is not a subclass of telephonist.interfaces.base.Interface"
    declared = getattr(obj, "name", None)
    if not isinstance(declared, str) or not declared:
        return f"{obj.__qualname__} does not set the class attribute 'name'"
    if declared != name:
        return f"{obj.__qualname__}.name is {declared!r} but the entry point is {name!r}"
    model = getattr(obj, "config_model", None)
    if not (isinstance(model, type) and issubclass(model, InterfaceConfig)):
        return f"{obj.__qualname__}.config_model is not a subclass of InterfaceConfig"
    if getattr(obj, "__abstractmethods__", None):
        missing = ", ".join(sorted(obj.__abstractmethods__))
        return f"{obj.__qualname__} does not implement {missing}"
    return None


def _load(ep: EntryPoint) -> InterfacePlugin:
    dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist is not None else "?"
    had_reactor = _REACTOR in sys.modules
    try:
        obj = ep.load()
    except Exception as exc:  # any import failure is that plugin's problem, not ours
        return InterfacePlugin(
            ep.name, ep.value, dist, error=f"cannot import {ep.value}: {type(exc).__name__}: {exc}"
        )
    imported_reactor = not had_reactor and _REACTOR in sys.modules
    problem = _check_class(ep.name, obj)
    if problem is not None:
        return InterfacePlugin(ep.name, ep.value, dist, error=problem)
    return InterfacePlugin(ep.name, ep.value, dist, cls=obj, imported_reactor=imported_reactor)


def discover(names: Iterable[str] | None = None, group: str = GROUP) -> dict[str, InterfacePlugin]:
    """Installed interfaces by name, broken ones included (with ``error`` set).

    With ``names``, only those entry points are imported: a server never pays for, or
    trips over, a plugin it does not enable."""
    wanted = None if names is None else set(names)
    found: dict[str, InterfacePlugin] = {}
    for ep in sorted(entry_points(group=group), key=lambda e: (e.name, e.value)):
        if wanted is not None and ep.name not in wanted:
            continue
        if ep.name in found:
            first = found[ep.name]
            if first.target != ep.value:
                found[ep.name] = InterfacePlugin(
                    ep.name,
                    ep.value,
                    first.distribution,
                    error=f"two plugins claim the name: {first.target} and {ep.value}",
                )
            continue
        found[ep.name] = _load(ep)
    return found


def installed_names(group: str = GROUP) -> set[str]:
    """The names of the installed interfaces, without importing any of them."""
    return {ep.name for ep in entry_points(group=group)}


def _hook_list(name: str, key: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(
            [f"interfaces.{name}.{key}: expected a list of dotted paths (got {value!r})"]
        )
    return tuple(value)


def configure(plugin: InterfacePlugin, options: Mapping[str, Any]) -> ConfiguredInterface:
    """Validate ``options`` with the plugin's model; ``ConfigError`` names key and value."""
    if plugin.cls is None:
        raise ConfigError([f"interfaces.{plugin.name}: plugin is broken: {plugin.error}"])
    own = {k: v for k, v in options.items() if k not in RUNTIME_KEYS}
    hooks = {k: _hook_list(plugin.name, k, options[k]) for k in RUNTIME_KEYS if k in options}
    try:
        config = plugin.cls.config_model.model_validate(own)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, f"interfaces.{plugin.name}")) from exc
    return ConfiguredInterface(
        plugin,
        plugin.cls,
        config,
        on_startup=hooks.get("on_startup", ()),
        on_shutdown=hooks.get("on_shutdown", ()),
    )


def enabled_interfaces(
    wanted: Mapping[str, Mapping[str, Any]],
    plugins: Mapping[str, InterfacePlugin],
    only: Iterable[str] | None = None,
) -> list[ConfiguredInterface]:
    """Configure every interface named in ``wanted`` (optionally narrowed to ``only``) and
    keep the enabled ones; all problems are collected into one ``ConfigError``."""
    names = list(wanted) if only is None else list(only)
    problems: list[str] = []
    result: list[ConfiguredInterface] = []
    for name in names:
        plugin = plugins.get(name)
        if plugin is None:
            problems.append(
                f"interfaces.{name}: no interface of that name is installed "
                "(see `telephonist interfaces`)"
            )
            continue
        options: Mapping[str, Any] = wanted.get(name) or {}
        try:
            configured = configure(plugin, options)
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        if configured.config.enabled:
            result.append(configured)
    if problems:
        raise ConfigError(problems)
    return result


def options_of(model: type[BaseModel]) -> list[Option]:
    """Every option of an interface, nested ones included, and the runtime's own keys."""
    return [
        *describe_model(model),
        *(
            Option(key, "list[str]", "[]", f"dotted callables run at {key[3:]} (see lifespan)")
            for key in RUNTIME_KEYS
        ),
    ]


def describe_options(model: type[BaseModel]) -> list[tuple[str, str, str, str]]:
    """``(key, type, default, description)`` per option (:func:`options_of`)."""
    return [(o.key, o.type, o.default, o.description) for o in options_of(model)]

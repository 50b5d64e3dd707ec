"""Where settings come from, and in which order they win.

Lowest to highest: the model's defaults, extra *sources* (the seam for Django: a callable
returning a mapping built from ``settings.TELEPHONIST`` and ``CHANNEL_LAYERS``), the TOML
file, ``TELEPHONIST_*`` environment variables, then ``--set key=value`` from the command
line. Mappings are merged key by key, so an environment variable overrides one option of
an interface without repeating the others. One exception: the layer's ``CONFIG`` belongs
to its ``BACKEND``, so a source that names another backend replaces the whole layer
(``TELEPHONIST_LAYER__BACKEND=memory`` over a Redis ``[layer]`` drops the Redis ``hosts``;
a ``CONFIG`` given by that same source is the new backend's).

Environment rule: ``TELEPHONIST_`` + the dotted key with ``__`` for each dot, upper case:
``TELEPHONIST_LAYER__BACKEND=redis``, ``TELEPHONIST_INTERFACES__LINECHAT__PORT=7001``.
Names are matched case-insensitively (keys are stored lower-case, except the layer's
``BACKEND`` and ``CONFIG``). A value is parsed as JSON when it is valid JSON (numbers,
``true``, lists, objects, quoted strings) and taken as a plain string otherwise.
``TELEPHONIST_CONFIG`` is not a setting: it names the TOML file.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .errors import ConfigError, describe_validation_error
from .model import LayerSettings, TelephonistConfig, rename_deprecated

__all__ = [
    "ENV_PREFIX",
    "ConfigSource",
    "find_config_file",
    "load_config",
    "parse_value",
]

ENV_PREFIX = "TELEPHONIST_"
ConfigSource = Callable[[], Mapping[str, Any]]
_FILE_ENV = ENV_PREFIX + "CONFIG"
_DEFAULT_FILE = "telephonist.toml"
_UPPER_UNDER_LAYER = {"backend": "BACKEND", "config": "CONFIG"}


def parse_value(text: str) -> Any:
    """JSON when it parses (``7001``, ``true``, ``["a"]``), else the string itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _key_path(dotted: Sequence[str]) -> list[str]:
    path = [part.lower() for part in dotted]
    if len(path) >= 2 and path[0] == "layer" and path[1] in _UPPER_UNDER_LAYER:
        path[1] = _UPPER_UNDER_LAYER[path[1]]
    return path


def _set_in(tree: dict[str, Any], path: Sequence[str], value: Any) -> None:
    node = tree
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[path[-1]] = value


def _from_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or name == _FILE_ENV:
            continue
        parts = name[len(ENV_PREFIX) :].split("__")
        if not all(parts):
            raise ConfigError([f"{name}: empty key segment (use '__' between keys)"])
        _set_in(tree, _key_path(parts), parse_value(environ[name]))
    return tree


def _from_overrides(overrides: Iterable[str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError([f"--set {item!r}: expected KEY=VALUE, e.g. worker.concurrency=8"])
        _set_in(tree, _key_path(key.strip().split(".")), parse_value(value))
    return tree


def merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``extra`` over ``base``, recursively for mappings."""
    out = dict(base)
    for key, value in extra.items():
        current = out.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            out[key] = merge(current, value)
        else:
            out[key] = value
    return out


def _overlay(tree: dict[str, Any], source: Mapping[str, Any]) -> dict[str, Any]:
    """``source`` over ``tree``: ``merge``, except for a change of layer backend.
    Renamed tables (``[host]``) are renamed per source, so they keep its precedence."""
    source = rename_deprecated(source)
    layer, current = source.get("layer"), tree.get("layer")
    if isinstance(layer, Mapping) and "BACKEND" in layer and isinstance(current, dict):
        before = current.get("BACKEND", _DEFAULT_BACKEND)
        if layer["BACKEND"] != before:
            tree = {**tree, "layer": {k: v for k, v in current.items() if k != "CONFIG"}}
    return merge(tree, source)


_DEFAULT_BACKEND = LayerSettings.model_fields["BACKEND"].default


def find_config_file(
    path: str | os.PathLike[str] | None, environ: Mapping[str, str]
) -> Path | None:
    """The explicit path, else ``$TELEPHONIST_CONFIG``, else ``./telephonist.toml`` if present."""
    explicit = path if path is not None else environ.get(_FILE_ENV)
    if explicit:
        found = Path(explicit)
        if not found.is_file():
            raise ConfigError([f"config file {str(found)!r} does not exist"])
        return found
    default = Path(_DEFAULT_FILE)
    return default if default.is_file() else None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: {exc}"]) from exc


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Iterable[str] = (),
    sources: Iterable[ConfigSource] = (),
) -> TelephonistConfig:
    """Build the validated configuration; ``ConfigError`` lists every problem."""
    environ = os.environ if environ is None else environ
    tree: dict[str, Any] = {}
    for source in sources:
        tree = _overlay(tree, source())
    found = find_config_file(path, environ)
    if found is not None:
        tree = _overlay(tree, _read_toml(found))
    tree = _overlay(tree, _from_environ(environ))
    tree = _overlay(tree, _from_overrides(overrides))
    try:
        return TelephonistConfig.model_validate(tree)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from exc

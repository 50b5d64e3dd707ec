"""Every option of a settings model, nested ones included, described from the model.

``telephonist interfaces`` prints these rows and the settings tables in ``docs/`` are
checked against them (``tests/test_settings_docs.py``), so the command, the docs and
the code cannot drift apart.

Keys are written as in TOML: ``websocket.max_frame_bytes`` (a table), ``networks[].host``
(each table of a list, ``[[interfaces.irc.networks]]``), ``teams.<name>.bot_token`` (a
table of tables keyed by a name of yours). A description is the field's
``description``, else the ``#:`` comment above the field in the model's source (the
comment convention Sphinx reads too). Secrets (``SecretStr``) are never shown: a secret
default is printed masked.
"""

from __future__ import annotations

import enum
import inspect
import json
import re
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import annotated_types
from pydantic import BaseModel, SecretStr, TypeAdapter
from pydantic.fields import FieldInfo

__all__ = ["MASK", "Option", "configured_values", "describe_model", "format_options"]

MASK = "********"
_DOC_COMMENT = re.compile(r"^\s*#:\s?(.*)$")


@dataclass(frozen=True)
class Option:
    """One setting: ``key`` as written in TOML, ``type`` and ``default`` readable (the
    default as JSON, ``(required)`` when there is none), ``bounds`` from the model's
    constraints (``>= 1, <= 1000``), ``secret`` for values never shown."""

    key: str
    type: str
    default: str
    description: str
    bounds: str = ""
    secret: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "type": self.type,
            "default": self.default,
            "bounds": self.bounds,
            "secret": self.secret,
            "description": self.description,
        }


@cache
def _comments(model: type[BaseModel]) -> dict[str, str]:
    """``#:`` comments above each field assignment in the class body, by field name."""
    try:
        lines = inspect.getsource(model).splitlines()
    except (OSError, TypeError):  # no source (a zipped or compiled-only install)
        return {}
    found: dict[str, str] = {}
    pending: list[str] = []
    for line in lines[1:]:
        comment = _DOC_COMMENT.match(line)
        if comment:
            pending.append(comment.group(1).strip())
            continue
        field = re.match(r"^    (\w+)\s*:", line)
        if field and pending:
            found[field.group(1)] = " ".join(pending)
        if line.strip():
            pending = []
    return found


def _description(model: type[BaseModel], name: str, info: FieldInfo) -> str:
    if info.description:
        return " ".join(info.description.split())
    for klass in model.__mro__:
        if isinstance(klass, type) and issubclass(klass, BaseModel) and name in _comments(klass):
            return _comments(klass)[name]
    return ""


def _is_secret(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, SecretStr):
        return True
    return any(_is_secret(a) for a in typing.get_args(annotation))


def _type_name(annotation: Any) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is type(None):
        return "None"
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in args)
    if origin is typing.Literal:
        return " | ".join(json.dumps(a) for a in args)
    if origin in (list, tuple, set, frozenset, Sequence):
        inner = [a for a in args if a is not Ellipsis]
        return f"list[{_type_name(inner[0]) if inner else 'Any'}]"
    if origin in (dict, Mapping):
        return f"dict[{_type_name(args[0])}, {_type_name(args[1])}]" if args else "dict"
    if isinstance(annotation, type):
        if issubclass(annotation, SecretStr):
            return "secret"
        if issubclass(annotation, BaseModel):
            return "table"
        if issubclass(annotation, enum.Enum):
            return " | ".join(json.dumps(m.value) for m in annotation)
        return annotation.__name__
    return str(annotation).replace("typing.", "")


def _default(info: FieldInfo, secret: bool) -> str:
    if info.is_required():
        return "(required)"
    value = info.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "(the table's defaults)"
    if secret and value not in (None, "", {}, [], ()):
        return MASK
    try:
        dumped = TypeAdapter(info.annotation or Any).dump_python(value, mode="json")
    except Exception:  # a default the annotation cannot dump: say what it is
        return repr(value)
    return json.dumps(dumped)


def _bounds(info: FieldInfo) -> str:
    words = []
    for item in info.metadata:
        for attr, sign in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            value = getattr(item, attr, None)
            if isinstance(item, getattr(annotated_types, attr.capitalize())):
                words.append(f"{sign} {value}")
        if isinstance(item, annotated_types.MinLen):
            words.append(f"at least {item.min_length} items")
        if isinstance(item, annotated_types.MaxLen):
            words.append(f"at most {item.max_length} items")
    return ", ".join(words)


def _nested(annotation: Any) -> tuple[str, type[BaseModel]] | None:
    """A table (``.``), list of tables (``[].``) or tables by name (``.<name>.``) in
    ``annotation``, with its model; ``None`` for a plain value."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return ".", annotation
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _nested(args[0])
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            found = _nested(arg)
            if found is not None:
                return found
        return None
    if origin in (list, tuple, set, frozenset, Sequence):
        for arg in args:
            found = _nested(arg)
            if found is not None and found[0] == ".":
                return "[].", found[1]
        return None
    if origin in (dict, Mapping) and len(args) == 2:
        found = _nested(args[1])
        if found is not None and found[0] == ".":
            return ".<name>.", found[1]
    return None


def describe_model(model: type[BaseModel], prefix: str = "") -> list[Option]:
    """Every option of ``model``, depth first, a nested table's own row before its keys."""
    rows: list[Option] = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        secret = _is_secret(annotation)
        key = prefix + name
        rows.append(
            Option(
                key=key,
                type=_type_name(annotation),
                default=_default(info, secret),
                description=_description(model, name, info),
                bounds=_bounds(info),
                secret=secret,
            )
        )
        nested = _nested(annotation)
        if nested is not None and nested[1] is not model:
            rows.extend(describe_model(nested[1], key + nested[0]))
    return rows


def configured_values(instance: BaseModel, prefix: str = "") -> dict[str, str]:
    """The value of every option of a validated ``instance``, keyed and written as
    :func:`describe_model` writes keys and defaults (JSON), so the two compare as text.
    A nested table's keys come one by one; a list of tables or tables by name is one
    value. Secrets are :data:`MASK` when set, whatever their depth."""
    out: dict[str, str] = {}
    for name, info in type(instance).model_fields.items():
        value = getattr(instance, name)
        key = prefix + name
        if isinstance(value, BaseModel):
            out.update(configured_values(value, key + "."))
            continue
        if _is_secret(info.annotation) and value not in (None, "", {}, [], ()):
            out[key] = MASK
            continue
        try:
            # SecretStr nested in lists or tables dumps as asterisks in JSON mode.
            dumped = TypeAdapter(info.annotation or Any).dump_python(value, mode="json")
        except Exception:
            out[key] = repr(value)
            continue
        out[key] = json.dumps(dumped)
    return out


def format_options(
    rows: Sequence[Option], indent: str = "  ", values: Mapping[str, str] | None = None
) -> list[str]:
    """Terminal lines: ``key  type  default ...  bounds`` and the description under it;
    with ``values`` (:func:`configured_values`), ``set ...`` where the value differs
    from the default."""
    key_w = max((len(r.key) for r in rows), default=0)
    lines = []
    for row in rows:
        head = f"{indent}{row.key:<{key_w}}  {row.type}  default {row.default}"
        value = (values or {}).get(row.key)
        if value is not None and value != row.default:
            head += f"  set {value}"
        if row.bounds:
            head += f"  ({row.bounds})"
        lines.append(head)
        if row.description:
            lines.extend(_wrap(row.description, indent + "    "))
    return lines


def _wrap(text: str, indent: str, width: int = 92) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width, initial_indent=indent, subsequent_indent=indent)

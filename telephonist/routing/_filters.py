"""Filters: regexes matched on message keys, compiled once and applied without copies.

Theory of operation
-------------------
A route or an include carries filters ``key=regex``. A message passes a filter when its
``key`` holds text (``str``, or ``bytes`` that decode as UTF-8) and ``re.match`` finds the
regex at the start of that text. Named groups become consumer keyword arguments.

An include's filters are *prefix* filters: after they match, the matched part is cut off
the value, and the routes nested below see only the rest. Nothing is copied to do this:
the matcher keeps a small ``overrides`` dict of stripped values and looks there before the
message itself, so the consumer still receives the message exactly as it was sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["FilterSpec", "Stage", "compile_stage", "match_stages", "text_value"]

FilterSpec = str | re.Pattern[str]


@dataclass(frozen=True, slots=True)
class Stage:
    """The filters of one route or include, in declaration order."""

    patterns: tuple[tuple[str, re.Pattern[str]], ...]
    strip: bool  # True for an include: later stages see the value minus the match


def compile_stage(filters: Mapping[str, object], *, strip: bool) -> tuple[Stage, list[str]]:
    """Compile ``filters``; returns the stage and a list of problems (empty when valid)."""
    patterns: list[tuple[str, re.Pattern[str]]] = []
    problems: list[str] = []
    for key, spec in filters.items():
        if isinstance(spec, re.Pattern):
            if not isinstance(spec.pattern, str):
                problems.append(f"filter {key}= is a bytes regex; use a str regex")
                continue
            patterns.append((key, spec))
        elif isinstance(spec, str):
            try:
                patterns.append((key, re.compile(spec)))
            except re.error as exc:
                problems.append(f"filter {key}={spec!r} is not a valid regex: {exc}")
        else:
            problems.append(f"filter {key}= must be a regex string, got {type(spec).__name__}")
    return Stage(tuple(patterns), strip), problems


def text_value(value: object) -> str | None:
    """The text a filter matches against, or ``None`` if ``value`` is not text.

    Invalid UTF-8 does not match anything: a filter that matched mangled text (with
    replacement characters) would route on data the sender never meant.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return None
    return None


def match_stages(stages: tuple[Stage, ...], content: Mapping[str, Any]) -> dict[str, str] | None:
    """Apply ``stages`` (outermost include first, route last) to ``content``.

    Returns the named groups as keyword arguments, or ``None`` if any filter fails.
    Groups that did not participate in the match are left out, so the consumer's
    own defaults apply; an inner group overrides an outer one of the same name.
    """
    overrides: dict[str, str] = {}
    kwargs: dict[str, str] = {}
    for stage in stages:
        for key, pattern in stage.patterns:
            value = overrides.get(key)
            if value is None:
                value = text_value(content.get(key))
                if value is None:
                    return None
            found = pattern.match(value)
            if found is None:
                return None
            for name, group in found.groupdict().items():
                if group is not None:
                    kwargs[name] = group
            if stage.strip:
                overrides[key] = value[found.end() :]
    return kwargs

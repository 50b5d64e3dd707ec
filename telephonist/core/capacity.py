"""Per-channel capacity: a default plus glob or regex overrides, first match wins."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Union

__all__ = ["CapacityRules"]

Pattern = Union[str, "re.Pattern[str]"]


class CapacityRules:
    """``CapacityRules(100, {"http.request": 200, "websocket.*": 20})``.

    String keys are globs (as in Channels), compiled patterns are used as given. The
    answer for a name is cached: capacity is looked up on every send.
    """

    def __init__(self, default: int, overrides: Mapping[Pattern, int] | None = None) -> None:
        if default < 1:
            raise ValueError(f"capacity must be at least 1, got {default}")
        self.default = default
        self._rules: list[tuple[re.Pattern[str], int]] = []
        for pattern, value in (overrides or {}).items():
            if value < 1:
                raise ValueError(f"channel_capacity[{pattern!r}] must be at least 1, got {value}")
            compiled = (
                pattern
                if isinstance(pattern, re.Pattern)
                else re.compile(fnmatch.translate(pattern))
            )
            self._rules.append((compiled, value))
        self.for_channel = lru_cache(maxsize=4096)(self._lookup)

    def _lookup(self, channel: str) -> int:
        for pattern, value in self._rules:
            if pattern.match(channel):
                return value
        return self.default

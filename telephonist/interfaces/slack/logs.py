"""``Throttled``: one log line per kind of trouble per interval, however often it happens.

A failure that repeats (Slack down, the layer full, a consumer sending bad replies)
must not flood the log: the first occurrence of a *key* is logged at once, the next
ones within ``interval`` seconds only counted, and the next line logged says how many
were suppressed. Counters (``host.count``) still see every occurrence.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

__all__ = ["Throttled"]

_MAX_KEYS = 1024


class Throttled:
    def __init__(
        self,
        log: logging.Logger,
        interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log = log
        self.interval = interval
        self._clock = clock
        self._last: dict[str, tuple[float, int]] = {}  # key -> (last logged, suppressed)

    def __call__(self, level: int, key: str, message: str, *args: Any) -> None:
        now = self._clock()
        last, suppressed = self._last.get(key, (float("-inf"), 0))
        if now - last < self.interval:
            self._last[key] = (last, suppressed + 1)
            return
        if len(self._last) >= _MAX_KEYS and key not in self._last:
            self._last.clear()  # bounded: forgetting only means logging again
        self._last[key] = (now, 0)
        if suppressed:
            message += " (%d more like it since the last report)"
            args = (*args, suppressed)
        self.log.log(level, message, *args)

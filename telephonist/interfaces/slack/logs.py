"""``Throttled``: one log line per kind of trouble per interval, however often it happens.

A failure that repeats (Slack down, the layer full, a consumer sending bad replies)
must not flood the log: the first occurrence of a *key* is logged at once, the next
ones within ``interval`` seconds only counted, and one line closes the window with how
many there were. Counters (``host.count``) still see every occurrence. This is the
core's :class:`~telephonist.core.ratelog.RateLimitedLog`, called with the level first
as the Slack modules do: ``throttled(logging.WARNING, key, message, *args)``.
"""

from __future__ import annotations

from typing import Any

from ...core.ratelog import RateLimitedLog

__all__ = ["Throttled"]


class Throttled(RateLimitedLog):
    def __call__(self, level: int, key: str, message: str, *args: Any) -> None:
        self.log(level, key, message, *args)

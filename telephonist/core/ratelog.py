"""``RateLimitedLog``: one log line for a kind of trouble, then a count of its repeats.

A broken or hostile peer can cause the same fault thousands of times a second (every
item of a flooded channel malformed); a line each would drown the log and cost more
than the fault itself. So the first occurrence of a *key* is logged at once, repeats
within ``interval`` seconds are only counted, and when the window closes one more line
says how many there were ("... 4,812 more like it in the last 60 s"); the next
occurrence after that opens a new window. At most two lines per key per interval.

The closing line is written by a timer on the running event loop; called with no loop
running, the count is written by the next occurrence after the window instead.
Counting what was dropped is the caller's job (``LayerStats``): the log says what
happened and where, the counters how often. Thread-safe: a layer is shared by loops.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RateLimitedLog"]

_OVERFLOW = "(other)"  # the key that new keys share once ``max_keys`` are open


@dataclass(slots=True)
class _Window:
    until: float
    suppressed: int = 0


class RateLimitedLog:
    def __init__(
        self,
        logger: logging.Logger,
        interval: float = 60.0,
        max_keys: int = 256,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if interval <= 0 or max_keys < 1:
            raise ValueError("interval and max_keys must be positive")
        self.logger = logger
        self.interval = interval
        self._max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, _Window] = {}

    def warning(
        self, key: str, message: str, *args: object, exc_info: BaseException | None = None
    ) -> None:
        """Log ``message % args`` at WARNING unless ``key`` was logged in the last
        ``interval`` seconds (then it is only counted)."""
        now = self._clock()
        with self._lock:
            if key not in self._windows and len(self._windows) >= self._max_keys:
                key = _OVERFLOW
            window = self._windows.get(key)
            if window is not None and now < window.until:
                window.suppressed += 1
                return
            closed = self._windows.pop(key, None)  # ran out with no timer to close it
            window = self._windows[key] = _Window(now + self.interval)
        if closed is not None:
            self._summarise(key, closed)
        self.logger.warning(message, *args, exc_info=exc_info)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        loop.call_later(self.interval, self._close, key, window)

    def _close(self, key: str, window: _Window) -> None:
        with self._lock:
            if self._windows.get(key) is not window:
                return  # already closed by a later occurrence
            del self._windows[key]
        self._summarise(key, window)

    def _summarise(self, key: str, window: _Window) -> None:
        if window.suppressed:
            self.logger.warning(
                "%s: %d more like it in the last %g s", key, window.suppressed, self.interval
            )

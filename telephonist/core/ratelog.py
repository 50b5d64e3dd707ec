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

``OutageLog`` is the same idea for a dependency that goes away and comes back (the
channel layer, seen from an interface): one line when it becomes unreachable, nothing
while it stays so (only counted), and one line when it is back, saying for how long it
was gone and how many operations failed in between.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["OutageLog", "RateLimitedLog"]

_OVERFLOW = "(other)"  # the key that new keys share once ``max_keys`` are open


@dataclass(slots=True)
class _Window:
    until: float
    level: int = logging.WARNING
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
        self.log(logging.WARNING, key, message, *args, exc_info=exc_info)

    def log(
        self,
        level: int,
        key: str,
        message: str,
        *args: object,
        exc_info: BaseException | None = None,
    ) -> None:
        """:meth:`warning` at ``level``; the closing count is written at that level too."""
        now = self._clock()
        with self._lock:
            if key not in self._windows and len(self._windows) >= self._max_keys:
                key = _OVERFLOW
            window = self._windows.get(key)
            if window is not None and now < window.until:
                window.suppressed += 1
                return
            closed = self._windows.pop(key, None)  # ran out with no timer to close it
            window = self._windows[key] = _Window(now + self.interval, level)
        if closed is not None:
            self._summarise(key, closed)
        self.logger.log(level, message, *args, exc_info=exc_info)
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
            self.logger.log(
                window.level,
                "%s: %d more like it in the last %g s",
                key, window.suppressed, self.interval,
            )  # fmt: skip


class OutageLog:
    """Two lines per outage of ``what``: when it starts and when it ends (with counts)."""

    def __init__(
        self, logger: logging.Logger, what: str, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.logger = logger
        self.what = what
        self._clock = clock
        self._lock = threading.Lock()
        self._since: float | None = None  # start of the current outage
        self.failures = 0  # failed operations in the current outage

    @property
    def down(self) -> bool:
        return self._since is not None

    def failed(self, error: BaseException | str) -> None:
        """An operation failed because ``what`` is unreachable."""
        with self._lock:
            self.failures += 1
            if self._since is not None:
                return
            self._since = self._clock()
        self.logger.warning("%s unreachable: %s", self.what, _brief(error))

    def ok(self) -> None:
        """An operation succeeded: ends the outage, if there was one."""
        if self._since is None:  # the common case, without the lock
            return
        with self._lock:
            since, failures = self._since, self.failures
            self._since, self.failures = None, 0
        if since is not None:
            self.logger.warning(
                "%s reachable again after %.1f s; %d operations failed meanwhile",
                self.what, self._clock() - since, failures,
            )  # fmt: skip


def _brief(error: BaseException | str) -> str:
    if isinstance(error, str):
        return error
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__

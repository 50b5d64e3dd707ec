"""``ReplyQuota``: how many reply mails one address may get per window. Pure.

Why: every reply is mail the service sends on someone else's prompting. Even to an
authenticated or allow-listed sender, a consumer that answers every line (or a loop
between two auto-responders that ignore ``Auto-Submitted``) must not become a stream
of mail to one mailbox. So each recipient has a token bucket: ``limit`` replies at once,
refilled at ``limit`` per ``window`` seconds; a reply without a token is dropped and
counted (``reply_rate_limited``).

Bounded: at most ``max_entries`` recipients are remembered, least recently used
forgotten first (a forgotten one starts again with a full bucket, which only errs
towards the limit a fresh recipient has anyway).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["ReplyQuota"]


class ReplyQuota:
    def __init__(
        self,
        limit: int,
        window: float,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1 or window <= 0 or max_entries < 1:
            raise ValueError("limit, window and max_entries must be positive")
        self.limit = limit
        self.window = window
        self.max_entries = max_entries
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, at

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, recipient: str) -> bool:
        """Spend one reply for ``recipient``; ``False`` (nothing spent) when none is left."""
        key = recipient.lower()
        now = self._clock()
        tokens, at = self._buckets.pop(key, (float(self.limit), now))
        tokens = min(float(self.limit), tokens + (now - at) * self.limit / self.window)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
        while len(self._buckets) > self.max_entries:
            self._buckets.popitem(last=False)
        return allowed

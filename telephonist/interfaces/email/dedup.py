"""``RecentSet``: a bounded, expiring set of keys.

When a multi-recipient transaction is only partly delivered (the layer filled up
half-way) the inbound handler answers 451 and records here which (message digest,
sender, recipient) went out; the sender retries the whole transaction, and the retry
delivers only the recipients that are missing instead of duplicating the rest.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

__all__ = ["RecentSet"]


class RecentSet:
    def __init__(
        self, ttl: float, max_entries: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[Hashable, float] = OrderedDict()  # key -> expiry

    def __len__(self) -> int:
        return len(self._entries)

    def _purge(self, now: float) -> None:
        # Entries are kept in insertion order with one TTL, so expired ones are first.
        while self._entries:
            key, expires = next(iter(self._entries.items()))
            if expires > now:
                break
            del self._entries[key]

    def __contains__(self, key: Hashable) -> bool:
        self._purge(self._clock())
        return key in self._entries

    def discard(self, key: Hashable) -> None:
        self._entries.pop(key, None)

    def add(self, key: Hashable) -> None:
        now = self._clock()
        self._purge(now)
        self._entries.pop(key, None)
        self._entries[key] = now + self.ttl
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)  # forget the oldest: bounded memory

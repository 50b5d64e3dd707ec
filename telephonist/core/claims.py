"""Claims: an optional layer capability, an atomic set-if-absent with expiry.

Theory of operation
-------------------
Some interfaces must do a thing once across every process that shares a layer: Slack
hands a retried event to whichever of up to ten Socket Mode connections it likes, so a
retry can reach another interface server than the first copy did, and only one of
them may deliver it. A *claim* is a small string value under a key, with a lifetime:

* ``claim(key, value, ttl)`` sets ``key`` to ``value`` for ``ttl`` seconds **if it is
  absent**, atomically for every process using the layer, and returns ``None``; if
  the key is present it changes nothing and returns the value held (``""`` when the
  key vanished between the two steps: treat that as "someone else has it").
* ``set_claim(key, value, ttl)`` overwrites (a "pending" claim becomes "done");
* ``drop_claim(key)`` deletes (the work failed; let the next attempt claim it).

Layers that offer it list ``"claims"`` in ``extensions``: the Redis layer keeps claims
as plain keys ``<prefix>:k:{<key>}`` written with ``SET NX PX`` (so ``flush`` removes
them with the rest of the layer's keys), the in-memory layer in a :class:`LocalClaims`
table. :func:`claims_of` returns the layer itself when it has the capability and
otherwise a process-local table (a foreign layer such as ``channels_redis``): still
correct within one process, not shared between processes.

Claims are bounded: ``LocalClaims`` holds at most ``max_entries`` (the oldest go first,
which can only ever let a duplicate through, never lose work); Redis keys expire.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = ["CLAIMS", "Claims", "LocalClaims", "claims_of"]

CLAIMS = "claims"  # the name in a layer's ``extensions``
MAX_KEY_LENGTH = 200


@runtime_checkable
class Claims(Protocol):
    async def claim(self, key: str, value: str, ttl: float) -> str | None: ...

    async def set_claim(self, key: str, value: str, ttl: float) -> None: ...

    async def drop_claim(self, key: str) -> None: ...


def check_claim(key: str, value: str, ttl: float) -> None:
    """Arguments every implementation accepts (so behaviour does not differ by layer)."""
    if not key or len(key) > MAX_KEY_LENGTH or any(c in key for c in "{}"):
        raise ValueError(f"a claim key is 1 to {MAX_KEY_LENGTH} characters without braces")
    if ttl <= 0:
        raise ValueError("a claim's ttl must be positive")
    del value


class LocalClaims:
    """Claims held by this process: a bounded, expiring table (no I/O, no awaiting;
    a lock, because the in-memory layer is shared by threads)."""

    def __init__(self, max_entries: int = 100_000, clock: Callable[[], float] = time.monotonic):
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[str, float]] = OrderedDict()  # value, expiry
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def _live(self, key: str, now: float) -> str | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[1] <= now:
            del self._entries[key]
            return None
        return entry[0]

    def _put(self, key: str, value: str, ttl: float, now: float) -> None:
        self._entries.pop(key, None)
        self._entries[key] = (value, now + ttl)
        # Insertion order is write order; expired entries and, beyond the bound, the
        # oldest ones go first.
        while self._entries:
            oldest, (_, expiry) = next(iter(self._entries.items()))
            if expiry > now and len(self._entries) <= self.max_entries:
                break
            del self._entries[oldest]

    def claim_now(self, key: str, value: str, ttl: float) -> str | None:
        check_claim(key, value, ttl)
        with self._lock:
            now = self._clock()
            held = self._live(key, now)
            if held is not None:
                return held
            self._put(key, value, ttl, now)
            return None

    def set_now(self, key: str, value: str, ttl: float) -> None:
        check_claim(key, value, ttl)
        with self._lock:
            self._put(key, value, ttl, self._clock())

    def drop_now(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    async def claim(self, key: str, value: str, ttl: float) -> str | None:
        return self.claim_now(key, value, ttl)

    async def set_claim(self, key: str, value: str, ttl: float) -> None:
        self.set_now(key, value, ttl)

    async def drop_claim(self, key: str) -> None:
        self.drop_now(key)


_fallbacks: weakref.WeakKeyDictionary[object, LocalClaims] = weakref.WeakKeyDictionary()


def claims_of(layer: object) -> Claims:
    """The layer's own claims if it has the capability, else a process-local table
    kept per layer object (see the module docstring)."""
    if CLAIMS in getattr(layer, "extensions", ()) and isinstance(layer, Claims):
        return layer
    table = _fallbacks.get(layer)
    if table is None:
        table = _fallbacks[layer] = LocalClaims()
    return table

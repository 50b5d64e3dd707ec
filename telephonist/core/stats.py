"""Counters a layer keeps about what it refused or dropped, read by ``telephonist status``.

At-most-once delivery may lose a message; the contract is that every loss is counted
under a reason, so an operator can tell a full channel from an expired one from a
receive cancelled mid-flight.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

__all__ = ["LayerStats", "Traffic", "layer_counters"]


class LayerStats:
    """Thread-safe named counters. Reasons in use:

    ``full`` (send refused, ``ChannelFull``), ``too_large`` (``MessageTooLarge``),
    ``expired`` (dropped unread after ``expiry``), ``cancelled`` (popped for a receive
    that was cancelled before it returned), ``reconnects`` (backing store reconnections),
    ``orphaned`` (arrived for a process-local channel nobody reads any more),
    ``malformed`` (read from the store but not a message: see ``redis/drops.py``),
    ``out_of_memory`` (Redis: refused by a server at ``maxmemory``; also counted ``full``).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def incr(self, reason: str, n: int = 1) -> None:
        with self._lock:
            self._counts[reason] += n

    def get(self, reason: str) -> int:
        with self._lock:
            return self._counts[reason]

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


class Traffic:
    """Messages ``sent`` and ``received`` through one layer object: plain integers,
    no lock (a ``LayerStats.incr`` costs a lock per message, measured at twice a
    contextvar set). Each loop's state of a layer counts on that loop; the in-memory
    layer counts under the lock it already holds. A rare lost increment between two
    loops' threads is the price, for numbers that only feed status and metrics."""

    __slots__ = ("received", "sent")

    def __init__(self) -> None:
        self.sent = 0
        self.received = 0

    def snapshot(self) -> dict[str, int]:
        return {"sent": self.sent, "received": self.received}


def layer_counters(layer: object) -> dict[str, Any]:
    """One process's counters of its layer object: ``dropped`` by reason, ``traffic``
    (``sent``, ``received``) and ``timings`` (send durations). A layer that keeps none
    of them (``channels_redis`` as a backend) gives empty ones."""
    found: dict[str, Any] = {}
    for key, attribute in (("dropped", "stats"), ("traffic", "traffic"), ("timings", "timings")):
        source = getattr(layer, attribute, None)
        snapshot = getattr(source, "snapshot", None)
        found[key] = snapshot() if callable(snapshot) else {}
    return found

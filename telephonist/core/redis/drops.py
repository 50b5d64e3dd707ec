"""What a reader does with an item it popped that is not a message: drop it, count it
``malformed`` and say so in the log, once per reader and window (``ratelog.py``).

Anyone who can write to the Redis server can push anything onto the lists this layer
reads: a bad frame, a bare msgpack integer where a map belongs, nesting 100,000 deep, a
huge payload. Each reader (``readers.py``, ``local.py``, the layer's normal-channel
receive) decodes inside its own error boundary and reports the item here, so one bad
item costs one dropped, counted message and the reader carries on with the next.
"""

from __future__ import annotations

import logging

from ..ratelog import RateLimitedLog
from ..stats import LayerStats

__all__ = ["INBOX", "Drops"]

logger = logging.getLogger("telephonist.layer.redis")

# How logs name a process's inbox: not by its token, which would tell a log reader the
# address to write to.
INBOX = "the process inbox"


class Drops:
    def __init__(self, stats: LayerStats, log: RateLimitedLog | None = None) -> None:
        self._stats = stats
        self._log = log or RateLimitedLog(logger)

    def malformed(self, where: str, reason: object, n: int = 1) -> None:
        """``n`` items popped from ``where`` (``"channel 'x'"``, ``"the process inbox"``)
        were dropped, for ``reason``."""
        self._stats.incr("malformed", n)
        key = f"malformed messages dropped from {where}"
        self._log.warning(key, "dropped a malformed message from %s: %s", where, reason)

"""Exponential backoff with full jitter, for reconnecting to a server that went away.

Jitter matters here more than usual: when a Redis server restarts, every process of a
deployment (interface servers and workers, each with a receive loop per channel) loses
its connections at the same instant; without jitter they would all retry in lockstep.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["Backoff"]


@dataclass
class Backoff:
    """``delay()`` grows ``base * 2**attempt`` up to ``cap``, drawn uniformly below it."""

    base: float = 0.05
    cap: float = 2.0
    attempt: int = 0
    _random: random.Random = field(default_factory=random.Random, repr=False)

    def delay(self) -> float:
        ceiling = min(self.cap, self.base * (2**self.attempt))
        self.attempt = min(self.attempt + 1, 32)  # bounded exponent: no float overflow
        # Never less than base: a zero delay would spin against a refused connect.
        return self.base + self._random.uniform(0, max(0.0, ceiling - self.base))

    def reset(self) -> None:
        self.attempt = 0

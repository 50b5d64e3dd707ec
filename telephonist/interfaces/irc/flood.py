"""Outgoing flood control: a token bucket per network, and reconnect back-off. Pure.

Theory of operation
-------------------
Servers disconnect clients that send faster than they allow ("Excess Flood"). Their
rules differ (ngircd and InspIRCd add a penalty per line, Solanum/hybrid count lines per
window), but a token bucket that allows a short ``burst`` and then ``rate`` lines per
second stays within all of them when set below the network's documented limits. Each
line costs one token; tokens refill continuously up to ``burst``. The bucket never
sleeps itself: it answers "how long until the next line may go", and the sender awaits
that delay, so the clock is injected and the logic is tested without waiting.

Reconnect back-off is exponential with jitter so that a restarted server is not hit by
every bot at the same instant: attempt ``n`` waits a uniformly random time between half
and all of ``min(maximum, initial * 2**n)``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

__all__ = ["Backoff", "TokenBucket"]


class TokenBucket:
    """``burst`` tokens at most, refilled at ``rate`` tokens per second."""

    def __init__(
        self, burst: int, rate: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if burst < 1:
            raise ValueError("burst must be at least 1")
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.burst = burst
        self.rate = rate
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    @property
    def tokens(self) -> float:
        self._refill()
        return self._tokens

    def delay(self) -> float:
        """Seconds until one token is available (0.0 if one is available now)."""
        self._refill()
        return 0.0 if self._tokens >= 1.0 else (1.0 - self._tokens) / self.rate

    def take(self) -> bool:
        """Spend one token if available; ``False`` (nothing spent) otherwise."""
        self._refill()
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class Backoff:
    """Delays for successive reconnect attempts; ``reset`` after a good connection."""

    def __init__(
        self,
        initial: float,
        maximum: float,
        rng: Callable[[float, float], float] = random.uniform,
    ) -> None:
        if initial <= 0 or maximum < initial:
            raise ValueError("need 0 < initial <= maximum")
        self.initial = initial
        self.maximum = maximum
        self._rng = rng
        self.attempt = 0

    def next_delay(self) -> float:
        # Cap the exponent too, so a long outage cannot overflow the float.
        ceiling = min(self.maximum, self.initial * 2 ** min(self.attempt, 60))
        self.attempt += 1
        return self._rng(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.attempt = 0

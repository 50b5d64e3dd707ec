"""Token bucket and back-off, on an injected clock (no waiting)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from telephonist.interfaces.irc.flood import Backoff, TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(burst=3, rate=2.0, clock=clock)
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    assert bucket.delay() == pytest.approx(0.5)
    clock.now += 0.5
    assert bucket.take()
    assert not bucket.take()
    clock.now += 100
    assert bucket.tokens == 3  # refills only up to the burst


@given(st.integers(1, 10), st.floats(0.1, 50), st.lists(st.floats(0, 2), max_size=200))
def test_never_more_than_burst_plus_rate_times_elapsed(
    burst: int, rate: float, gaps: list[float]
) -> None:
    clock = Clock()
    bucket = TokenBucket(burst, rate, clock)
    start, sent = clock.now, 0
    for gap in gaps:
        clock.now += gap
        sent += bucket.take()
        assert sent <= burst + rate * (clock.now - start) + 1e-6


def test_bucket_validates() -> None:
    with pytest.raises(ValueError, match="burst"):
        TokenBucket(0, 1)
    with pytest.raises(ValueError, match="rate"):
        TokenBucket(1, 0)


def test_backoff_grows_with_jitter_and_resets() -> None:
    backoff = Backoff(1.0, 10.0, rng=lambda low, high: high)
    assert [backoff.next_delay() for _ in range(6)] == [1, 2, 4, 8, 10, 10]
    backoff.reset()
    assert backoff.next_delay() == 1
    low = Backoff(1.0, 10.0, rng=lambda low, high: low)
    assert [low.next_delay() for _ in range(3)] == [0.5, 1, 2]
    real = Backoff(1.0, 10.0)
    for _ in range(200):  # the exponent is capped: no overflow after a long outage
        assert 0.5 <= real.next_delay() <= 10

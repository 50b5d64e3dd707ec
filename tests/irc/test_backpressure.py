"""Inbound backpressure and the outbox, as pure state machines on an injected clock."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from telephonist.interfaces.irc.backpressure import Backpressure
from telephonist.interfaces.irc.flood import TokenBucket
from telephonist.interfaces.irc.outbox import Outbox


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def pressure(clock: Clock, **overrides: float) -> Backpressure:
    settings: dict[str, float] = {"max_delay": 0.05, "give_up": 10.0, "log_every": 10.0}
    settings.update(overrides)
    return Backpressure(
        max_delay=settings["max_delay"],
        give_up=settings["give_up"],
        log_every=settings["log_every"],
        high_water=8,
        low_water=2,
        clock=clock,
    )


def test_retries_start_at_a_millisecond_and_double_up_to_the_cap() -> None:
    clock = Clock()
    bp = pressure(clock)
    delays = []
    for _ in range(9):
        refusal = bp.refused()
        assert refusal.delay is not None
        delays.append(refusal.delay)
        clock.now += refusal.delay
    assert delays == pytest.approx([0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.05, 0.05, 0.05])


def test_the_first_refusal_pauses_and_warns_once_then_the_stall_ends_on_a_publish() -> None:
    clock = Clock()
    bp = pressure(clock)
    first = bp.refused()
    assert first.pause
    assert first.new_stall
    assert first.warn
    assert first.unlogged == 0
    again = bp.refused()
    assert not again.pause
    assert not again.new_stall
    assert not again.warn
    clock.now += 0.003
    assert bp.settled(depth=5) is None  # published, but too many still wait to read on
    resumed = bp.settled(depth=2)
    assert resumed is not None
    assert resumed.warned
    assert resumed.stalled_for == pytest.approx(0.003)
    assert not bp.paused
    # After a publish the next refusal starts from a millisecond again.
    assert bp.refused().delay == pytest.approx(0.001)


def test_warnings_are_rate_limited_and_count_the_stalls_in_between() -> None:
    clock = Clock()
    bp = pressure(clock, log_every=10.0)
    warned = []
    for _ in range(5):  # five stalls within two seconds
        refusal = bp.refused()
        warned.append((refusal.warn, refusal.unlogged))
        clock.now += 0.4
        resumed = bp.settled(depth=0)
        assert resumed is not None
    assert warned == [(True, 0), (False, 0), (False, 0), (False, 0), (False, 0)]
    clock.now += 10
    refusal = bp.refused()
    assert (refusal.warn, refusal.unlogged) == (True, 4)
    assert refusal.new_stall


def test_an_event_refused_for_too_long_is_given_up() -> None:
    clock = Clock()
    bp = pressure(clock, give_up=1.0)
    while (refusal := bp.refused()).delay is not None:
        clock.now += refusal.delay
    assert clock.now - 100.0 >= 1.0
    # The next event gets its own full budget, and the stall goes on: still paused.
    assert bp.refused().delay == pytest.approx(0.001)
    assert bp.paused


def test_a_backlog_pauses_at_high_water_and_resumes_at_low_water_without_a_stall() -> None:
    bp = pressure(Clock())
    assert [bp.queued(depth) for depth in range(1, 10)] == [False] * 7 + [True, True]
    assert bp.settled(depth=3) is None
    resumed = bp.settled(depth=2)
    assert resumed is not None
    assert resumed.stalled_for is None
    assert not resumed.warned


@given(st.lists(st.sampled_from(["refused", "settled", "queued", "tick"]), max_size=200))
def test_paused_exactly_between_a_pause_and_a_resume(steps: list[str]) -> None:
    clock = Clock()
    bp = pressure(clock)
    paused = False
    depth = 0
    for step in steps:
        if step == "refused":
            refusal = bp.refused()
            assert refusal.pause == (not paused)
            assert refusal.delay is None or 0 < refusal.delay <= bp.max_delay
            paused = True
        elif step == "queued":
            depth += 1
            if bp.queued(depth):
                paused = True
        elif step == "settled":
            depth = max(0, depth - 1)
            resumed = bp.settled(depth)
            if resumed is not None:
                assert paused
                assert depth <= bp.low_water
                paused = False
        else:
            clock.now += 0.5
        assert bp.paused == paused


def test_backpressure_validates() -> None:
    with pytest.raises(ValueError, match="water"):
        Backpressure(max_delay=1, give_up=1, high_water=2, low_water=2)
    with pytest.raises(ValueError, match="first_delay"):
        Backpressure(max_delay=0.0001, give_up=1)


# -- the outbox ---------------------------------------------------------------------------


async def test_outbox_without_flood_control_writes_at_once_in_order() -> None:
    written: list[str] = []
    outbox = Outbox(None, 3, written.append)
    assert outbox.put(["a", "b", "c"])
    assert written == ["a", "b", "c"]  # no task, no wait: written by put itself
    assert len(outbox) == 0
    assert not outbox.put(["d", "e", "f", "g"])  # still bounded: refused whole
    await asyncio.wait_for(outbox.drained(), 1)


@given(
    st.lists(
        st.one_of(st.integers(1, 4).map(lambda n: ("put", n)), st.just(("tick", 0))),
        max_size=60,
    )
)
def test_outbox_keeps_order_and_the_bucket(steps: list[tuple[str, int]]) -> None:
    """Lines go out in the order they were put, whether ``put`` wrote them or the sender
    did, and never faster than the bucket allows."""

    async def scenario() -> None:
        clock = Clock()
        bucket = TokenBucket(3, 2.0, clock)
        written: list[str] = []
        outbox = Outbox(bucket, 1000, written.append)
        sender = asyncio.ensure_future(outbox.run())
        start, put, counter = clock.now, [], 0
        try:
            for kind, n in steps:
                if kind == "put":
                    lines = [f"l{counter + i}" for i in range(n)]
                    counter += n
                    assert outbox.put(lines)
                    put += lines
                else:
                    clock.now += 0.5
                await asyncio.sleep(0)  # let the sender take its turn
                assert written == put[: len(written)]
                assert len(written) <= 3 + 2.0 * (clock.now - start) + 1e-9
                assert len(written) + len(outbox) == len(put)
        finally:
            sender.cancel()

    asyncio.run(scenario())

"""The outbound scheduler (sans-IO) against its promises, on random workloads."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from telephonist.interfaces.slack.ratelimit import TIER_OF, Job, Scheduler, TierLimit

TIERS = {
    "1": TierLimit(1, 1),
    "2": TierLimit(20, 3),
    "3": TierLimit(50, 5),
    "4": TierLimit(100, 10),
    "special": TierLimit(300, 10),
}
METHODS = ["chat.postMessage", "chat.update", "reactions.remove", "views.open", "users.info"]

steps = st.lists(
    st.one_of(
        st.tuples(st.just("submit"), st.sampled_from(METHODS), st.sampled_from(["A", "B", None])),
        st.tuples(st.just("advance"), st.floats(0, 3), st.none()),
        st.tuples(st.just("finish"), st.booleans(), st.integers(0, 3)),  # 429 with Retry-After
    ),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(steps, st.floats(0.1, 2.0), st.integers(1, 4))
def test_scheduler_keeps_every_promise(
    plan: list[tuple[str, object, object]], interval: float, concurrency: int
) -> None:
    scheduler = Scheduler(TIERS, post_interval=interval, max_jobs=30, concurrency=concurrency)
    now = 0.0
    running: list[Job] = []
    starts: dict[str, list[float]] = defaultdict(list)  # method -> start times
    post_starts: dict[str, list[float]] = defaultdict(list)  # channel -> chat.postMessage starts
    order: dict[str, list[int]] = defaultdict(list)  # order key -> seqs started
    paused_until: dict[str, float] = {}
    submitted = 0

    def start_ready() -> None:
        while (job := scheduler.take(now)) is not None:
            assert all(job.order_key != other.order_key for other in running)
            assert len(running) < concurrency
            assert now >= paused_until.get(job.method, -math.inf)
            running.append(job)
            starts[job.method].append(now)
            if job.method == "chat.postMessage" and job.channel:
                post_starts[job.channel].append(now)
            order[job.order_key].append(job.seq)

    for op, a, b in plan:
        if op == "submit":
            accepted = scheduler.submit(Job(str(a), {}, b if isinstance(b, str) else None))
            submitted += accepted
            assert accepted == (len(scheduler) <= 30)
        elif op == "advance":
            assert isinstance(a, float)
            now += a
        elif running:
            job = running.pop(0)
            assert isinstance(b, int)
            if a:  # a 429: the whole method pauses, the job goes back
                scheduler.rate_limited(job.method, b, now)
                paused_until[job.method] = max(paused_until.get(job.method, 0), now + b)
                scheduler.retry(job)
                order[job.order_key].remove(job.seq)  # it will start again, in place
            else:
                scheduler.done(job)
        start_ready()

    for seqs in order.values():  # one order key: in submission order
        assert seqs == sorted(seqs)
    for times in post_starts.values():  # one channel: post_interval apart
        assert all(b - a >= interval - 1e-9 for a, b in itertools.pairwise(times))
    for method, times in starts.items():  # token bucket: burst + rate * window
        limit = TIERS[TIER_OF[method]]
        for i, first in enumerate(times):
            in_window = [t for t in times[i:] if t - first < 60]
            assert len(in_window) <= limit.burst + limit.per_minute + 1e-9

    # Liveness: finish everything; whatever is queued starts by the time wake_at says.
    for _ in range(10_000):
        for job in running:
            scheduler.done(job)
        running.clear()
        if not len(scheduler):
            break
        wake = scheduler.wake_at(now)
        assert wake < math.inf
        now = max(now, wake)
        before = len(scheduler)
        start_ready()
        assert len(scheduler) < before, "wake_at promised a start that did not happen"
    assert not len(scheduler)


def test_a_429_pauses_every_caller_of_the_method() -> None:
    scheduler = Scheduler(TIERS, post_interval=0.0)
    first = Job("chat.update", {}, "A")
    other = Job("chat.update", {}, "B")
    scheduler.submit(first)
    scheduler.submit(other)
    assert scheduler.take(0.0) is first
    scheduler.rate_limited("chat.update", 5, 0.0)
    scheduler.retry(first)
    assert scheduler.take(1.0) is None  # B did not get the 429, and waits all the same
    assert scheduler.wake_at(1.0) == 5.0
    assert scheduler.take(5.0) is first
    assert scheduler.take(5.0) is other


def test_channels_do_not_wait_for_each_other() -> None:
    scheduler = Scheduler(TIERS, post_interval=1.0)
    for channel in "AAB":
        scheduler.submit(Job("chat.postMessage", {}, channel))
    a1 = scheduler.take(0.0)
    assert a1 is not None
    b = scheduler.take(0.0)
    assert b is not None
    assert b.channel == "B"
    scheduler.done(a1)
    assert scheduler.take(0.5) is None  # A's second post: one second after the first
    assert scheduler.wake_at(0.5) == 1.0

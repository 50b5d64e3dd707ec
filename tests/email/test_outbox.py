"""The outbound queue and the retry policy, without sockets: a scripted relay."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from telephonist.interfaces.email.compose import OutboundMail
from telephonist.interfaces.email.config import RelayConfig
from telephonist.interfaces.email.outbox import Outbox
from telephonist.interfaces.email.queue import RetryQueue
from telephonist.interfaces.email.relay import Attempt


def mail(n: int = 0, rcpts: tuple[str, ...] = ("a@x.test",)) -> OutboundMail:
    return OutboundMail("me@x.test", rcpts, b"Subject: s\r\n\r\nb\r\n", id=f"m{n}")


async def test_capacity_counts_delayed_items_and_reserve_waits() -> None:
    queue: RetryQueue[int] = RetryQueue(2)
    assert queue.put_nowait(1)
    assert queue.put_nowait(2)
    assert not queue.put_nowait(3)  # full
    item = await queue.get()
    queue.retry_later(item, 0.05)  # still holds its slot
    assert not queue.put_nowait(3)
    reserving = asyncio.ensure_future(queue.reserve())
    await asyncio.sleep(0)
    assert not reserving.done()
    await queue.get()
    queue.done()  # a slot frees: the reservation gets it
    async with asyncio.timeout(1):
        await reserving
    assert len(queue) == 2
    assert await asyncio.wait_for(queue.get(), 1) == item  # the retry fell due


async def test_backoff_is_exponential_capped_and_jittered() -> None:
    box = Outbox(RelayConfig(backoff_base=1, backoff_max=10), count=lambda *_: None,
                 report=_noop, deliver=_never)  # fmt: skip
    for attempt, ceiling in ((1, 1), (2, 2), (3, 4), (4, 8), (5, 10), (20, 10)):
        delay = box.backoff(attempt)
        assert ceiling / 2 <= delay <= ceiling


async def _noop(report: Any) -> None:
    return None


async def _never(mail: OutboundMail) -> Attempt:
    raise AssertionError("not called")


async def test_per_recipient_outcomes() -> None:
    """a@ accepted, b@ 450 then accepted, c@ 550: one retry for b@ only, c@ reported."""
    calls: list[tuple[str, ...]] = []

    async def relay(m: OutboundMail) -> Attempt:
        calls.append(m.recipients)
        result = Attempt()
        for rcpt in m.recipients:
            if rcpt == "c@x.test":
                result.permanent[rcpt] = (550, "no such user")
            elif rcpt == "b@x.test" and len(calls) == 1:
                result.temporary[rcpt] = (450, "try later")
            else:
                result.delivered.append(rcpt)
        return result

    counts: Counter[str] = Counter()
    reports: list[Any] = []

    async def report(r: Any) -> None:
        reports.append(r)

    fast = RelayConfig(backoff_base=0.01, backoff_max=0.01)
    box = Outbox(fast, count=lambda name, n: counts.update({name: n}), report=report,
                 deliver=relay)  # fmt: skip
    box.start()
    try:
        assert box.submit_nowait(mail(1, ("a@x.test", "b@x.test", "c@x.test")))
        async with asyncio.timeout(5):
            await box.queue.wait_empty()
    finally:
        await box.stop(0)
    assert calls == [("a@x.test", "b@x.test", "c@x.test"), ("b@x.test",)]
    assert counts["sent"] == 2
    assert counts["send_retries"] == 1
    assert [(r["recipients"], r["code"], r["permanent"]) for r in reports] == [
        (["c@x.test"], 550, True)
    ]


@pytest.mark.parametrize("attempts", [1, 3])
async def test_retries_exhausted_are_reported_as_temporary(attempts: int) -> None:
    async def relay(m: OutboundMail) -> Attempt:
        return Attempt.everyone(m.recipients, None, "connection refused")

    reports: list[Any] = []

    async def report(r: Any) -> None:
        reports.append(r)

    box = Outbox(RelayConfig(max_attempts=attempts, backoff_base=0.01, backoff_max=0.01),
                 count=lambda *_: None, report=report, deliver=relay)  # fmt: skip
    box.start()
    try:
        box.submit_nowait(mail())
        async with asyncio.timeout(5):
            await box.queue.wait_empty()
    finally:
        await box.stop(0)
    [r] = reports
    assert r["attempts"] == attempts
    assert r["permanent"] is False
    assert r["code"] is None


async def test_stop_abandons_and_counts_what_is_left() -> None:
    gate = asyncio.Event()

    async def relay(m: OutboundMail) -> Attempt:
        await gate.wait()
        return Attempt(delivered=list(m.recipients))

    counts: Counter[str] = Counter()
    box = Outbox(RelayConfig(concurrency=1), count=lambda name, n: counts.update({name: n}),
                 report=_noop, deliver=relay)  # fmt: skip
    box.start()
    for i in range(3):
        box.submit_nowait(mail(i))
    await box.stop(0.05)
    assert counts["send_abandoned"] == 3  # one in flight (outcome unknown), two never started

"""Events pushed through the stand-in's Socket Mode, and what became of each.

The stand-in (``telephonist.testing.slack``) runs in the benchmark's event loop with
Slack's own redelivery rules (an envelope not acknowledged within 3 s is sent again,
up to 3 times). Every event is a ``message`` with a unique text in one of 20 channels
from one of 5 users; the app under test answers it with ``chat.postMessage`` of the
same text. For each event:

* **ack latency**: from the moment the envelope was handed to the socket to the
  moment its acknowledgement arrived;
* **event-to-reply**: from the same moment to the arrival of the ``chat.postMessage``
  carrying its text;
* **delivered twice**: more than one ``chat.postMessage`` with its text (the listener
  ran twice, for instance on a redelivery); **redelivered**: the stand-in sent it
  more than once (its first ack came later than 3 s).

Two ways of driving (:func:`drive`): a closed loop with ``window`` events in flight
(each waits for its reply and its ack before the next goes out): the throughput, in
events answered per second; and a paced stream of ``rate`` events per second, well
under every app's capacity, for the latencies of an app that is not saturated. The
stand-in's own CPU time over a run is reported too: if it nears one core, the
stand-in, not the app, is what limits the rate.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from telephonist.testing.slack import ApiCall, Channel, Delivery, SlackStandIn, User

__all__ = ["BenchStandIn", "Phase", "drive"]

CHANNELS = 20
USERS = 5
WITHIN = 60.0  # seconds an event may take before the run counts it unanswered


class BenchStandIn(SlackStandIn):  # type: ignore[misc]  # (an editable install: Any here)
    """The stand-in, telling the benchmark when each reply arrives."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.replies: dict[str, asyncio.Future[float]] = {}
        self.reply_counts: Counter[str] = Counter()
        self.users: list[User] = []
        self.channels: list[Channel] = []

    def populate(self) -> None:
        self.users = [self.add_user(f"user{i}", display_name=f"User {i}") for i in range(USERS)]
        self.channels = [self.add_channel(f"room{i}") for i in range(CHANNELS)]

    def _record(self, call: ApiCall) -> None:
        self.calls.append(call)  # no change notification: nothing here waits on it
        if call.method != "chat.postMessage":
            return
        text = str(call.params.get("text"))
        self.reply_counts[text] += 1
        waiter = self.replies.get(text)
        if waiter is not None and not waiter.done():
            waiter.set_result(call.at)


@dataclass
class Phase:
    events: int = 0
    elapsed: float = 0.0
    acks: list[float] = field(default_factory=list)  # seconds
    replies: list[float] = field(default_factory=list)
    unanswered: int = 0
    redelivered: int = 0
    twice: int = 0  # answered more than once
    standin_cpu: float = 0.0  # seconds of the stand-in's CPU over the phase

    @property
    def rate(self) -> float:
        return (self.events - self.unanswered) / self.elapsed if self.elapsed else 0.0


async def _one(slack: BenchStandIn, text: str, user: User, channel: Channel, phase: Phase
               ) -> None:  # fmt: skip
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[float] = loop.create_future()
    slack.replies[text] = waiter
    delivery: Delivery = slack.message(text, user, channel)
    try:
        async with asyncio.timeout(WITHIN):
            replied = await waiter
            await delivery.done.wait()
    except TimeoutError:
        phase.unanswered += 1
        return
    finally:
        slack.replies.pop(text, None)
    first = delivery.attempts[0]
    start = first.sent if first.sent is not None else first.at
    if delivery.acked_at is None:
        phase.unanswered += 1
        return
    phase.acks.append(delivery.acked_at - start)
    phase.replies.append(replied - start)
    if len(delivery.attempts) > 1:
        phase.redelivered += 1


async def drive(
    slack: BenchStandIn, texts: list[str], *, window: int | None = None,
    rate: float | None = None,
) -> Phase:  # fmt: skip
    """Push one event per text (``window`` in flight, or ``rate`` per second)."""
    phase = Phase(events=len(texts))
    targets = itertools.cycle(itertools.product(slack.users, slack.channels))
    cpu0, t0 = time.process_time(), time.monotonic()
    tasks: list[asyncio.Task[None]] = []
    if window is not None:
        slots = asyncio.Semaphore(window)

        async def bounded(text: str, user: User, channel: Channel) -> None:
            async with slots:
                await _one(slack, text, user, channel, phase)

        for text in texts:
            user, channel = next(targets)
            tasks.append(asyncio.ensure_future(bounded(text, user, channel)))
    else:
        assert rate is not None
        for i, text in enumerate(texts):
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)  # pacing, not synchronisation
            user, channel = next(targets)
            tasks.append(asyncio.ensure_future(_one(slack, text, user, channel, phase)))
    await asyncio.gather(*tasks)
    phase.elapsed = time.monotonic() - t0
    phase.standin_cpu = time.process_time() - cpu0
    phase.twice = sum(1 for text in texts if slack.reply_counts[text] > 1)
    return phase

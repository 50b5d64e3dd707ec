"""``Scheduler``: when each queued Web API call of one workspace may start. No I/O.

Theory of operation
-------------------
Slack limits Web API calls per method and workspace by *tier* (docs: Web API rate
limits): Tier 1 about 1 a minute, Tier 2 20, Tier 3 50, Tier 4 100, each with small
bursts tolerated; ``chat.postMessage`` is special: about one message a second per
channel, and several hundred a minute per workspace. Past a limit Slack answers HTTP
429 with ``Retry-After``, and that pause applies to the method, not to one caller.

The outbound queue of a workspace (``outbox.py``) asks this scheduler which job may
start now. A job starts when all of these hold:

* its method's *bucket* (a token bucket refilled at the tier's rate, holding at most
  the tier's burst) has a token;
* the method is not *paused* by a 429's ``Retry-After`` (every job of that method
  waits, whoever got the 429);
* for ``chat.postMessage``, ``post_interval`` has passed since the last post started
  in the same channel;
* no earlier job with the same *order key* (the channel, for calls about a channel; the
  method otherwise) is still queued or running: posts, updates and reactions in one
  channel happen in the order they were asked for, while other channels go ahead;
* fewer than ``concurrency`` jobs are running.

``take(now)`` returns the oldest job that may start (consuming its token) or ``None``;
``wake_at(now)`` says when to ask again (``inf``: only after ``submit``, ``done`` or
``retry``). A job that got a 429 goes back to its old place with ``retry``. The queue
is bounded: ``submit`` refuses beyond ``max_jobs`` (the caller counts the drop).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["POST_MESSAGE", "TIER_OF", "Job", "Scheduler", "TierLimit"]

POST_MESSAGE = "chat.postMessage"
_EPSILON = 1e-9


@dataclass(frozen=True)
class TierLimit:
    per_minute: float
    burst: int


#: The tier of every method the interface calls (Slack's documentation).
TIER_OF: dict[str, str] = {
    "chat.postMessage": "special",
    "chat.postEphemeral": "4",
    "chat.update": "3",
    "chat.delete": "3",
    "reactions.add": "3",
    "reactions.remove": "2",
    "views.open": "4",
    "views.update": "4",
    "views.push": "4",
    "users.info": "4",
    "conversations.info": "3",
    "auth.test": "4",
    "chat.meMessage": "3",
    "users.conversations": "3",
}
DEFAULT_TIER = "2"  # a method not in the table gets the cautious middle


@dataclass(eq=False)
class Job:
    """One call to make. ``channel`` orders it among calls about the same channel."""

    method: str
    params: dict[str, Any]
    channel: str | None = None
    attempts: int = 0
    seq: int = -1  # submission order, set by the scheduler

    @property
    def order_key(self) -> str:
        return f"c:{self.channel}" if self.channel else f"m:{self.method}"


@dataclass
class _Bucket:
    rate: float  # tokens a second
    burst: float
    tokens: float
    updated: float

    def refill(self, now: float) -> None:
        if now > self.updated:
            self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
            self.updated = now

    def ready_at(self, now: float) -> float:
        self.refill(now)
        # A little slack for float rounding: at the time this returns, refill must
        # find the token (or wake_at would promise a start take() then refuses).
        missing = 1 - _EPSILON - self.tokens
        return now if missing <= 0 else now + missing / self.rate + _EPSILON


@dataclass
class Scheduler:
    tiers: Mapping[str, TierLimit]
    post_interval: float = 1.0
    max_jobs: int = 1000
    concurrency: int = 4
    _queue: list[Job] = field(default_factory=list)
    _running: dict[str, Job] = field(default_factory=dict)  # order key -> job
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    _paused: dict[str, float] = field(default_factory=dict)  # method -> until
    _last_post: dict[str, float] = field(default_factory=dict)  # channel -> start
    _seq: itertools.count[int] = field(default_factory=itertools.count)

    def __len__(self) -> int:
        return len(self._queue)

    @property
    def running(self) -> int:
        return len(self._running)

    def submit(self, job: Job) -> bool:
        if len(self._queue) >= self.max_jobs:
            return False
        job.seq = next(self._seq)
        self._queue.append(job)
        return True

    def _bucket(self, method: str, now: float) -> _Bucket:
        bucket = self._buckets.get(method)
        if bucket is None:
            limit = self.tiers.get(TIER_OF.get(method, DEFAULT_TIER)) or self.tiers[DEFAULT_TIER]
            burst = max(1.0, float(limit.burst))
            bucket = _Bucket(limit.per_minute / 60.0, burst, burst, now)
            self._buckets[method] = bucket
        return bucket

    def _ready_at(self, job: Job, now: float) -> float:
        """The earliest time ``job`` may start, ignoring order and concurrency."""
        at = max(now, self._paused.get(job.method, now))
        at = max(at, self._bucket(job.method, now).ready_at(now))
        if job.method == POST_MESSAGE and job.channel is not None:
            last = self._last_post.get(job.channel)
            if last is not None:
                at = max(at, last + self.post_interval)
        return at

    def _candidates(self) -> list[Job]:
        """Jobs at the head of their order key with nothing of that key running."""
        seen: set[str] = set(self._running)
        heads = []
        for job in self._queue:
            key = job.order_key
            if key not in seen:
                seen.add(key)
                heads.append(job)
        return heads

    def take(self, now: float) -> Job | None:
        if len(self._running) >= self.concurrency:
            return None
        for job in self._candidates():
            if self._ready_at(job, now) <= now:
                self._queue.remove(job)
                self._bucket(job.method, now).tokens -= 1
                if job.method == POST_MESSAGE and job.channel is not None:
                    self._last_post[job.channel] = now
                self._running[job.order_key] = job
                job.attempts += 1
                return job
        return None

    def wake_at(self, now: float) -> float:
        if len(self._running) >= self.concurrency:
            return math.inf
        return min((self._ready_at(job, now) for job in self._candidates()), default=math.inf)

    def done(self, job: Job) -> None:
        """``job`` finished (whatever the outcome): its order key may go on."""
        if self._running.get(job.order_key) is job:
            del self._running[job.order_key]

    def rate_limited(self, method: str, retry_after: float, now: float) -> None:
        """A 429 for ``method``: nobody calls it before ``now + retry_after``."""
        until = now + max(0.0, retry_after)
        self._paused[method] = max(self._paused.get(method, until), until)
        bucket = self._bucket(method, now)
        bucket.tokens = min(bucket.tokens, 0.0)  # and no burst right after the pause

    def retry(self, job: Job) -> None:
        """Put ``job`` back in its old place (its order key keeps its order)."""
        self.done(job)
        index = next((i for i, other in enumerate(self._queue) if other.seq > job.seq),
                     len(self._queue))  # fmt: skip
        self._queue.insert(index, job)

    def drain(self) -> list[Job]:
        """Everything still queued (on shutdown), oldest first."""
        jobs, self._queue = self._queue, []
        return jobs

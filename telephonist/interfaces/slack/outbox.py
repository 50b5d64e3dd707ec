"""``Outbox``: the Web API calls of one workspace, queued, paced and made.

One per workspace. ``submit`` queues a call (bounded: beyond ``queue_size`` it is
refused and counted ``api_queue_full``); a pump task asks the :class:`Scheduler`
(``ratelimit.py``) which call may start and sleeps exactly until the next one may, so
an idle outbox costs nothing. Each call runs as its own task through slack-sdk's
``AsyncWebClient`` method of that name (its own argument encoding per method), bounded
by ``api_timeout``; nothing blocks the event loop.

Outcomes: success (counted ``api_calls``); HTTP 429, whose ``Retry-After`` pauses the
method for every caller and puts the call back in its place, up to ``max_attempts``
tries (then ``api_dropped``); a Slack error (``ok: false``), logged with Slack's code and
counted ``api_errors`` and ``api_error.<code>``; a transport failure or timeout
(``api_unreachable``), not retried because the call may have been made (a retried post
could appear twice). Callers that want the answer (name lookups) get a future.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from .config import SlackConfig
from .logs import Throttled
from .ratelimit import Job, Scheduler

__all__ = ["Outbox"]

log = logging.getLogger("telephonist.interfaces.slack")

_MAX_RETRY_AFTER = 600.0  # seconds: a longer Retry-After is taken as this


def retry_after(headers: Any) -> float:
    """Seconds from a 429's ``Retry-After`` (1 when absent or unreadable)."""
    try:
        value = float(headers.get("Retry-After", 1))
    except (TypeError, ValueError, AttributeError):
        return 1.0
    return min(max(value, 0.0), _MAX_RETRY_AFTER) if math.isfinite(value) else 1.0


class Outbox:
    def __init__(
        self,
        team: str,
        client: AsyncWebClient,
        config: SlackConfig,
        count: Callable[[str, int], None],
        throttled: Throttled,
    ) -> None:
        self.team = team
        self.client = client
        self.config = config
        self._count = count
        self._log = throttled
        self.scheduler = Scheduler(config.tiers, config.post_interval, config.queue_size,
                                   config.api_concurrency)  # fmt: skip
        self._futures: dict[Job, asyncio.Future[dict[str, Any]]] = {}
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._calls: set[asyncio.Task[None]] = set()
        self._pump: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._pump = asyncio.get_running_loop().create_task(
            self._run(), name=f"slack-outbox-{self.team}"
        )

    def submit(
        self,
        method: str,
        params: dict[str, Any],
        channel: str | None = None,
        *,
        answer: bool = False,
    ) -> asyncio.Future[dict[str, Any]] | None:
        """Queue one call; with ``answer`` a future of Slack's answer (or its error).
        Returns ``None`` (without ``answer``) or raises ``OverflowError`` when full."""
        job = Job(method, params, channel)
        if not self.scheduler.submit(job):
            self._count("api_queue_full", 1)
            why = "slack: outbound queue of team %s is full; %s dropped"
            self._log(logging.WARNING, f"full.{self.team}", why, self.team, method)
            if answer:
                raise OverflowError(f"outbound queue of team {self.team} is full")
            return None
        future = None
        if answer:
            future = self._futures[job] = asyncio.get_running_loop().create_future()
        self._idle.clear()
        self._wake.set()
        return future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._wake.clear()
            now = loop.time()
            job = self.scheduler.take(now)
            if job is not None:
                task = loop.create_task(self._call(job))
                self._calls.add(task)
                task.add_done_callback(self._calls.discard)
                continue
            if not len(self.scheduler) and not self.scheduler.running:
                self._idle.set()
            wake = self.scheduler.wake_at(now)
            timeout = None if wake == math.inf else max(0.0, wake - now)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)  # sleeps until due

    async def _call(self, job: Job) -> None:
        loop = asyncio.get_running_loop()
        future = self._futures.pop(job, None)
        outcome: dict[str, Any] | BaseException
        try:
            method = getattr(self.client, job.method.replace(".", "_"))
            response = await asyncio.wait_for(method(**job.params), self.config.api_timeout)
            outcome = dict(response.data) if isinstance(response.data, dict) else {}
            self._count("api_calls", 1)
        except SlackApiError as exc:
            outcome = exc
            if exc.response.status_code == 429:
                self._count("api_rate_limited", 1)
                self.scheduler.rate_limited(
                    job.method, retry_after(exc.response.headers), loop.time()
                )
                if job.attempts < self.config.max_attempts:
                    self.scheduler.retry(job)
                    if future is not None:
                        self._futures[job] = future
                    return
                self._count("api_dropped", 1)
            code = str(exc.response.get("error") or f"http_{exc.response.status_code}")
            self._count("api_errors", 1)
            self._count(f"api_error.{code}", 1)
            self._log(logging.WARNING, f"{job.method}.{code}",
                      "slack: %s failed in team %s: %s", job.method, self.team, code)  # fmt: skip
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            outcome = exc
            self._count("api_unreachable", 1)
            self._log(logging.WARNING, "unreachable", "slack: %s in team %s did not complete: %r",
                      job.method, self.team, exc)  # fmt: skip
        except Exception as exc:  # a bug (say a bad argument): surface it, keep serving
            outcome = exc
            self._count("errors", 1)
            log.exception("slack: %s in team %s raised", job.method, self.team)
        finally:
            self.scheduler.done(job)
            self._wake.set()
        if future is not None and not future.done():
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
                future.exception()  # retrieved: a caller that gave up must not log it
            else:
                future.set_result(outcome)

    async def stop(self, drain_timeout: float) -> None:
        """Let queued calls go out for up to ``drain_timeout`` seconds, then drop the rest."""
        if self._pump is not None and (len(self.scheduler) or self.scheduler.running):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), drain_timeout)
        if self._pump is not None:
            self._pump.cancel()
            await asyncio.gather(self._pump, return_exceptions=True)
        for task in list(self._calls):
            task.cancel()
        await asyncio.gather(*self._calls, return_exceptions=True)
        dropped = self.scheduler.drain()
        if dropped:
            self._count("api_dropped", len(dropped))
            log.warning("slack: %d queued call(s) of team %s dropped at shutdown", len(dropped),
                        self.team)  # fmt: skip
        for future in self._futures.values():
            future.cancel()
        self._futures.clear()

    def status(self) -> dict[str, Any]:
        return {"queued": len(self.scheduler), "running": self.scheduler.running}

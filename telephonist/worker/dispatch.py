"""``Dispatcher``: one message in, one consumer run, one ``Outcome`` out; never raises.

Theory of operation
-------------------
The worker receives ``(channel, content)`` from the layer and awaits ``dispatch``. The
Dispatcher matches the routing and runs the consumer where it belongs: an async one on
the event loop, a sync one in the executor (``asyncio.to_thread`` if none is given).
Either way the consumer runs inside ``consumer_context``, which publishes the layer and
the worker's loop through contextvars; for a sync consumer the context is copied into
the thread, which is what lets ``message.reply_channel.send(...)`` block there while
running on the worker's loop. ``consumer_started``/``consumer_finished`` are sent in the
thread that runs the consumer (per-thread database hygiene depends on it).

Everything a consumer can do wrong ends as an outcome, logged and counted, and the
worker carries on:

* no route, or ``DenyConnection``: the protocol's answer from ``routing.policies`` goes
  to the reply channel (HTTP 404/403, WebSocket close 403); without a policy the
  message is logged and dropped (unless it asked for a completion, which says so);
* ``ConsumeLater``: the message goes back on its channel with a retry count under
  ``CONSUME_LATER_KEY``; past ``consume_later_limit`` retries it is dropped;
* any other exception: logged with the message type, channel and route -> ``ERROR``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import enum
import functools
import inspect
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ..consumers.base import is_async_consumer
from ..consumers.context import consumer_context
from ..consumers.exceptions import ConsumeLater, DenyConnection
from ..consumers.interrupt import interruptible
from ..consumers.message import AsyncMessage, Message
from ..consumers.signals import Signal, consumer_finished, consumer_started
from ..core.base import BaseChannelLayer
from ..core.exceptions import LayerUnavailable
from ..core.ratelog import RateLimitedLog
from ..core.stats import LayerStats
from ..core.timings import Timings
from ..logging import connection_var, route_var
from ..redaction import loggable_channel
from ..routing import Match, Router, describe_callable
from ..routing.policies import policy_for
from ..spec.completion import COMPLETION_KEY

__all__ = ["CONSUME_LATER_KEY", "Dispatcher", "Outcome", "Requeue", "sync_consumers_running"]

log = logging.getLogger("telephonist.dispatch")
_trouble = RateLimitedLog(log)  # one line per outage, not one per message

CONSUME_LATER_KEY = "__consume_later__"

# Sync consumers running right now, in every dispatcher of the process: what a stop
# must not wait for (their threads cannot be interrupted). Counted, not guessed from the
# threads alive: idle pool threads and SyncLayer's loop thread run no consumer.
_sync_lock = threading.Lock()
_sync_running = 0


def sync_consumers_running() -> int:
    """How many sync consumers are running now, in this process."""
    return _sync_running


def _sync_count(step: int) -> None:
    global _sync_running
    with _sync_lock:
        _sync_running += step


Requeue = Callable[[str, dict[str, Any]], Awaitable[None]]


class Outcome(enum.Enum):
    CONSUMED = "consumed"
    NO_ROUTE = "no_route"
    DENIED = "denied"
    ERROR = "error"
    CONSUME_LATER = "consume_later"
    DROPPED = "dropped"


class Dispatcher:
    """Routes and runs consumers for one worker (see the module doc).

    ``executor`` is owned by the caller (the worker bounds and shuts it down).
    ``requeue(channel, content)`` replaces the layer send used by ``ConsumeLater``,
    for a worker that must put the message back somewhere affinity-aware.
    """

    def __init__(
        self,
        router: Router,
        layer: BaseChannelLayer,
        *,
        executor: concurrent.futures.Executor | None = None,
        consume_later_limit: int = 10,
        requeue: Requeue | None = None,
    ) -> None:
        if consume_later_limit < 0:
            raise ValueError("consume_later_limit must be >= 0")
        self.router = router
        self.layer = layer
        self.executor = executor
        self.consume_later_limit = consume_later_limit
        self._requeue: Requeue = requeue or layer.send
        # Per-dispatcher hooks; the process-wide ``consumer_started``/``_finished`` (what
        # the Django app connects to) are sent as well.
        self.consumer_started = Signal("consumer_started")
        self.consumer_finished = Signal("consumer_finished")
        self._outcomes = LayerStats()
        self._dropped = LayerStats()
        #: Consumer run time per route (seconds, every outcome), for status and metrics.
        self.timings = Timings()
        self._async: dict[Any, bool] = {}
        self._cut: dict[Any, bool] = {}

    # -- status -----------------------------------------------------------------------

    def counters(self) -> dict[str, int]:
        """Messages per outcome since start (every outcome, zeros included)."""
        counts = self._outcomes.snapshot()
        return {o.value: counts.get(o.value, 0) for o in Outcome}

    def dropped(self) -> dict[str, int]:
        """Messages dropped or left unanswered, by reason."""
        return self._dropped.snapshot()

    def describe(self) -> dict[str, Any]:
        return {
            "outcomes": self.counters(),
            "dropped": self.dropped(),
            "timings": self.timings.snapshot(),
            "consumers": self.consumer_counters(),
        }

    def consumer_counters(self) -> dict[str, dict[str, int]]:
        """The own counters of routed consumers that keep some (a consumer object with
        a ``status_counters()`` method, such as a hosted ASGI application), by name."""
        out: dict[str, dict[str, int]] = {}
        for consumer in self.router.consumers:
            report = getattr(consumer, "status_counters", None)
            if not callable(report):
                continue
            try:
                counts = dict(report())
            except Exception:  # a status read must never break the status answer
                log.exception("status_counters() of %r failed", consumer)
                continue
            name = getattr(consumer, "name", None)
            out[name if isinstance(name, str) else describe_callable(consumer)] = counts
        return out

    # -- dispatching --------------------------------------------------------------------

    async def dispatch(self, channel: str, content: dict[str, Any]) -> Outcome:
        """Consume one message; returns what happened. Only cancellation propagates."""
        try:
            outcome = await self._dispatch(channel, content)
        except Exception:  # a bug here must not kill the worker either
            log.exception("dispatching a message on %r failed", loggable_channel(channel))
            outcome = Outcome.ERROR
        self._outcomes.incr(outcome.value)
        return outcome

    async def _dispatch(self, channel: str, content: dict[str, Any]) -> Outcome:
        match = self.router.match(channel, content)
        if match is None:
            return await self._answer("no_route", channel, content, Outcome.NO_ROUTE)
        # Every log line from here on (the consumer's own too) names the route and the
        # connection; the formatter shortens the channel name only if a line is written.
        reply = content.get("reply_channel")
        route_token = route_var.set(match.route)
        connection_token = connection_var.set(reply if isinstance(reply, str) else None)
        started = time.perf_counter()
        try:
            await self._run(match, channel, content)
        except DenyConnection:
            return await self._answer("deny", channel, content, Outcome.DENIED)
        except ConsumeLater:
            return await self._consume_later(channel, content, match)
        except LayerUnavailable as exc:
            # The layer is down (and says so in the log itself): what the consumer was
            # sending, a reply most often, is lost. Counted; no traceback, it is no bug.
            self._dropped.incr("layer_unavailable")
            _trouble.warning(
                "layer", "consumer %s could not reach the layer (a reply lost): %s",
                match.route, exc,
            )  # fmt: skip
            return Outcome.DROPPED
        except Exception:
            log.exception(
                "consumer %s failed on a %r message from channel %r",
                match.route,
                content.get("type"),
                loggable_channel(channel),
            )
            return Outcome.ERROR
        finally:
            self.timings.observe(match.route, time.perf_counter() - started)
            route_var.reset(route_token)
            connection_var.reset(connection_token)
        return Outcome.CONSUMED

    async def _run(self, match: Match, channel: str, content: dict[str, Any]) -> None:
        with consumer_context(self.layer, asyncio.get_running_loop()):
            if self._is_async(match.consumer):
                # Its channels' sends are coroutines: what makes a forgotten await
                # visible to mypy in an async consumer (see consumers/message.py).
                message: Message = AsyncMessage(content, channel, self.layer)
                self._hook(True, match, message, is_async=True)
                try:
                    if self._interruptible(match.consumer):
                        with interruptible():
                            await match.consumer(message, **match.kwargs)
                    else:
                        await match.consumer(message, **match.kwargs)
                finally:
                    self._hook(False, match, message, is_async=True)
                return
            message = Message(content, channel, self.layer)
            call = functools.partial(contextvars.copy_context().run, self._run_sync, match, message)
            if self.executor is None:
                result = await asyncio.to_thread(call)
            else:
                result = await asyncio.get_running_loop().run_in_executor(self.executor, call)
        if inspect.isawaitable(result):  # a sync wrapper that returned a coroutine
            with consumer_context(self.layer, asyncio.get_running_loop()):
                await result

    def _run_sync(self, match: Match, message: Message) -> Any:
        _sync_count(1)
        self._hook(True, match, message, is_async=False)
        try:
            return match.consumer(message, **match.kwargs)
        finally:
            self._hook(False, match, message, is_async=False)
            _sync_count(-1)

    def _hook(self, started: bool, match: Match, message: Message, *, is_async: bool) -> None:
        signals = (
            (self.consumer_started, consumer_started)
            if started
            else (self.consumer_finished, consumer_finished)
        )
        for signal in signals:
            signal.send(
                self,
                channel=message.channel.name,
                message=message,
                route=match.route,
                is_async=is_async,
            )

    def _interruptible(self, consumer: Callable[..., Any]) -> bool:
        """Whether the consumer opted in to being cancelled when its client leaves
        (``consumers.interrupt``): ``interruptible = True`` on it or on its class."""
        return _remembered(self._cut, consumer, _opted_in)

    def _is_async(self, consumer: Callable[..., Any]) -> bool:
        return _remembered(self._async, consumer, is_async_consumer)

    async def _answer(
        self, kind: str, channel: str, content: dict[str, Any], outcome: Outcome
    ) -> Outcome:
        """Send the protocol's answer for ``kind`` to the reply channel, if it has one."""
        policy = policy_for(channel)
        answers = policy.answer(kind, content) if policy is not None else None
        reply = content.get("reply_channel")
        if answers is None and content.get(COMPLETION_KEY) is True:
            # The sender asked for a completion: the worker reports the outcome to it
            # (``worker.completion``); the interface answers its client and logs. The
            # outcome counter counts it.
            return outcome
        if answers is None or not isinstance(reply, str):
            self._dropped.incr(f"{kind}_unanswered")
            _trouble.warning(
                f"{kind}:{channel}",
                "%s for a %r message on %r: dropped (no answer defined for this channel)",
                "no route" if kind == "no_route" else "connection denied",
                content.get("type"),
                loggable_channel(channel),
            )
            return outcome
        try:
            for answer in answers:
                await self.layer.send(reply, answer)
        except Exception as exc:  # full or gone reply channel: the client times out
            self._dropped.incr(f"{kind}_answer_failed")
            log.warning("could not answer %s on %s: %s", kind, loggable_channel(reply), exc)
        return outcome

    async def _consume_later(self, channel: str, content: dict[str, Any], match: Match) -> Outcome:
        previous = content.get(CONSUME_LATER_KEY, 0)
        retries = (previous if isinstance(previous, int) else 0) + 1
        if retries > self.consume_later_limit:
            self._dropped.incr("consume_later_limit")
            log.warning(
                "dropping a %r message on %r: %s asked to consume it later %d times",
                content.get("type"),
                loggable_channel(channel),
                match.route,
                retries,
            )
            return Outcome.DROPPED
        try:
            await self._requeue(channel, {**content, CONSUME_LATER_KEY: retries})
        except Exception as exc:
            self._dropped.incr("consume_later_failed")
            log.warning(
                "dropping a %r message on %r: re-send failed: %s",
                content.get("type"),
                loggable_channel(channel),
                exc,
            )
            return Outcome.DROPPED
        return Outcome.CONSUME_LATER


def _remembered(
    known: dict[Any, bool], consumer: Callable[..., Any], ask: Callable[[Any], bool]
) -> bool:
    """``ask(consumer)``, remembered per consumer (asked on every message otherwise)."""
    try:
        return known[consumer]
    except KeyError:
        flag = known[consumer] = ask(consumer)
        return flag
    except TypeError:  # an unhashable callable object: just ask each time
        return ask(consumer)


def _opted_in(consumer: object) -> bool:
    flag = getattr(consumer, "interruptible", None)
    if flag is None:
        flag = getattr(getattr(consumer, "consumer_class", None), "interruptible", None)
    return flag is True

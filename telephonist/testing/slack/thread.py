"""The stand-in served from a thread of its own, for code that is not asynchronous.

A browser test drives Chromium synchronously, and a development server (``manage.py
runserver``) has its own loop; both want a Slack that keeps answering while they do
something else. :class:`StandInThread` runs a :class:`~.driver.SlackStandIn` on an event
loop in a daemon thread; :meth:`call` runs a function of the stand-in in that loop
(``thread.call(lambda s: s.message("hi", alice, general))``) and :meth:`wait` waits
there for a coroutine, both with a bounded time::

    standin = StandInThread().start()
    alice = standin.call(lambda s: s.add_user("alice"))
    standin.call(lambda s: s.message("hello", alice, general))
    post = standin.wait(lambda s: s.wait_for_call("chat.postMessage"))
    standin.stop()

``page=True`` also serves the page of ``page.py`` at ``/``: post as a Slack user by hand.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from .driver import SlackStandIn
from .page import add_page

__all__ = ["StandInThread"]

T = TypeVar("T")


class StandInThread:
    def __init__(self, port: int = 0, *, page: bool = False, **options: Any) -> None:
        self.slack = SlackStandIn(port=port, **options)
        if page:
            add_page(self.slack)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="slack-standin", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    def start(self, within: float = 10.0) -> StandInThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.slack.__aenter__(), self._loop).result(within)
        return self

    def call(self, fn: Callable[[SlackStandIn], T], within: float = 10.0) -> T:
        """``fn(slack)``, run in the stand-in's loop; its result."""
        done: Future[T] = Future()

        def run() -> None:
            try:
                done.set_result(fn(self.slack))
            except BaseException as exc:
                done.set_exception(exc)

        self._loop.call_soon_threadsafe(run)
        return done.result(within)

    def wait(self, fn: Callable[[SlackStandIn], Awaitable[T]], within: float = 30.0) -> T:
        """Await ``fn(slack)`` in the stand-in's loop; its result."""

        async def run() -> T:
            return await fn(self.slack)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(within)

    def stop(self, within: float = 10.0) -> None:
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self.slack.stop(), self._loop).result(within)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(within)

"""``Responder``: posts to ``response_url``s, within Slack's limit of 5 uses in 30 minutes.

Slash commands and interactions come with a ``response_url`` through which an app may
answer later (docs: handling user interaction): at most 5 times, within 30 minutes. A
use beyond either is refused here, without a request (counted
``respond_refused``), rather than sent to fail. Uses are counted per URL in one bounded
table. Posts go through slack-sdk's ``AsyncWebhookClient`` on the shared session, each
as its own task, bounded by ``api_timeout``; outcomes are counted ``responded`` or
``respond_failed`` (with Slack's answer in the log).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import aiohttp
from slack_sdk.webhook.async_client import AsyncWebhookClient

from .logs import Throttled

__all__ = ["MAX_USES", "Responder", "UrlUses"]

MAX_USES = 5
LIFETIME = 1800.0  # seconds


class UrlUses:
    """How often each ``response_url`` was used (no I/O)."""

    def __init__(self, max_urls: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_urls = max_urls
        self._clock = clock
        self._uses: OrderedDict[str, tuple[float, int]] = OrderedDict()  # url -> (first seen, n)

    def seen(self, url: str) -> None:
        """The event that carried ``url`` arrived: its 30 minutes start now."""
        if url not in self._uses:
            self._uses[url] = (self._clock(), 0)
            while len(self._uses) > self.max_urls:
                self._uses.popitem(last=False)

    def take(self, url: str) -> str | None:
        """Use ``url`` once; ``None`` if allowed, else why not."""
        now = self._clock()
        first, used = self._uses.get(url, (now, 0))
        if now - first > LIFETIME:
            return "expired (older than 30 minutes)"
        if used >= MAX_USES:
            return f"used up ({MAX_USES} uses)"
        self._uses[url] = (first, used + 1)
        self._uses.move_to_end(url)
        return None


class Responder:
    def __init__(
        self,
        session: Callable[[], aiohttp.ClientSession | None],
        timeout: float,
        max_urls: int,
        count: Callable[[str, int], None],
        throttled: Throttled,
    ) -> None:
        self._session = session
        self._timeout = timeout
        self.uses = UrlUses(max_urls)
        self._count = count
        self._log = throttled
        self._tasks: set[asyncio.Task[None]] = set()

    def post(self, url: str, body: dict[str, Any]) -> None:
        refused = self.uses.take(url)
        if refused is not None:
            self._count("respond_refused", 1)
            self._log(logging.WARNING, "respond_refused", "slack: response_url not used: %s",
                      refused)  # fmt: skip
            return
        task = asyncio.get_running_loop().create_task(self._post(url, body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post(self, url: str, body: dict[str, Any]) -> None:
        client = AsyncWebhookClient(
            url, timeout=int(max(1, self._timeout)), session=self._session()
        )
        try:
            response = await asyncio.wait_for(client.send_dict(body), self._timeout)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            self._count("respond_failed", 1)
            self._log(logging.WARNING, "respond_failed", "slack: response_url post failed: %r", exc)
            return
        if response.status_code == 200:
            self._count("responded", 1)
        else:
            self._count("respond_failed", 1)
            self._log(logging.WARNING, "respond_failed", "slack: response_url answered %s: %s",
                      response.status_code, str(response.body)[:200])  # fmt: skip

    async def stop(self, drain_timeout: float) -> None:
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=drain_timeout)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

"""``Supervisor``: keeps ``connections`` Socket Mode links open, whatever Slack does.

Theory of operation
-------------------
Each link starts with ``apps.connections.open`` (a fresh, single-use URL every time),
connects, and must say ``hello`` within ``hello_timeout``. The supervisor keeps
``connections`` links that are *connecting* or *open*; a link that Slack asked to be
replaced is *draining* and no longer counts, though it stays up, still delivering and
acknowledging, until its replacement said hello and its envelopes in flight were
answered. So ``disconnect`` is handled by its meaning (:func:`on_disconnect`):

=======================  ==========================================================
reason                   what happens
=======================  ==========================================================
``warning``,             open the replacement first, then close the old link once
``refresh_requested``    the new one said hello (no gap, and each envelope is
(and unknown reasons)    acknowledged on the link that brought it: no redelivery)
``too_many_websockets``  close this link, wait ``too_many_backoff`` before opening
``link_disabled``        Socket Mode was turned off for the app: close every link,
                         stop reconnecting, say so in the log and ``status``
=======================  ==========================================================

A link that ends otherwise (closed, error, stale: see ``link.py``) is replaced after a
backoff: exponential from ``reconnect_min`` to ``reconnect_max`` with full jitter, reset
by a ``hello``. ``apps.connections.open`` answering 429 waits its ``Retry-After``; a
refused app token (``invalid_auth``, ...) stops reconnecting like ``link_disabled``.

Why not slack-sdk's ``SocketModeClient``: it reconnects on every ``disconnect``
whatever the reason, closing the old socket before opening the new one (a gap), keeps
one connection per client, and has known wedges (python-slack-sdk #1446: a failed
reconnect inside a listener leaves it broken; #1922: retrying forever on a closed
session; ``close()`` during its ~3 s reconnect window crashes). Owning the links with
aiohttp's WebSocket client and slack-sdk's ``AsyncWebClient`` for the URLs removes all
three and lets ``disconnect`` mean what Slack says it means.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from .config import SlackConfig
from .envelopes import Disconnect, Hello, Inbound, Malformed, parse_frame
from .link import CONNECTING, DRAINING, OPEN, Link
from .logs import Throttled
from .outbox import retry_after
from .policy import backoff_delay, on_disconnect

__all__ = ["Supervisor"]

log = logging.getLogger("telephonist.interfaces.slack")


MAX_IN_FLIGHT = 1000  # envelopes of one link being taken at once; more are not acked

_FATAL = ("invalid_auth", "not_authed", "token_revoked", "account_inactive",
          "not_allowed_token_type", "token_expired")  # fmt: skip

Handler = Callable[[Link, Inbound], Awaitable[None]]


class Supervisor:
    def __init__(
        self,
        config: SlackConfig,
        session: Callable[[], aiohttp.ClientSession | None],
        handle: Handler,
        count: Callable[[str, int], None],
        throttled: Throttled,
    ) -> None:
        assert config.app_token is not None
        self.config = config
        self._session = session
        self._handle = handle
        self._count = count
        self._log = throttled
        self.links: list[Link] = []
        self.state = "starting"  # running, disabled, refused, stopped
        self.reconnects = 0  # links that said hello beyond the first ``connections``
        self.last_disconnect: str | None = None
        self._hellos = 0
        self._failures = 0
        self._not_before = 0.0  # monotonic: no new link before this
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._main: asyncio.Task[None] | None = None

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Check the app token (a refused one fails the start), then keep links open."""
        url = await self._open_url(startup=True)
        self.state = "running"
        if url is not None:
            await self._connect(url)
        self._main = asyncio.get_running_loop().create_task(self._run(), name="slack-socket-mode")

    async def stop(self, drain_timeout: float) -> None:
        self.state = "stopped"
        if self._main is not None:
            self._main.cancel()
            await asyncio.gather(self._main, return_exceptions=True)
        idle = [asyncio.ensure_future(link.idle.wait()) for link in self.links]
        if idle:
            await asyncio.wait(idle, timeout=drain_timeout)
            for waiter in idle:
                waiter.cancel()
        for link in list(self.links):
            await link.close("stopping")
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- keeping links open -----------------------------------------------------------------

    def _live(self) -> list[Link]:
        return [link for link in self.links if link.state in (CONNECTING, OPEN)]

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while self.state == "running":
            self._wake.clear()
            wait = max(0.0, self._not_before - loop.time())
            if len(self._live()) < self.config.connections and wait == 0:
                try:
                    await self._connect()
                except Exception as exc:  # a bug must not end the supervision: back off
                    log.exception("slack: opening a Socket Mode link failed")
                    self._count("errors", 1)
                    self._fail(repr(exc))
                continue
            timeout = wait if len(self._live()) < self.config.connections else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)  # until due or changed

    def _fail(self, why: str) -> None:
        self._failures += 1
        delay = backoff_delay(self._failures, self.config.reconnect_min,
                              self.config.reconnect_max, random.random())  # fmt: skip
        self._defer(delay)
        self._log(logging.WARNING, "connect", "slack: Socket Mode connection failed (%s); "
                  "retrying in %.1fs", why, delay)  # fmt: skip

    def _defer(self, delay: float) -> None:
        loop = asyncio.get_running_loop()
        self._not_before = max(self._not_before, loop.time() + delay)

    async def _open_url(self, startup: bool = False) -> str | None:
        assert self.config.app_token is not None
        web = AsyncWebClient(base_url=self.config.api_url, session=self._session())
        token = self.config.app_token.get_secret_value()
        try:
            answer = await asyncio.wait_for(web.apps_connections_open(app_token=token),
                                            self.config.api_timeout)  # fmt: skip
        except SlackApiError as exc:
            code = str(exc.response.get("error") or exc.response.status_code)
            if exc.response.status_code == 429:
                self._defer(retry_after(exc.response.headers))
                self._count("socket_url_rate_limited", 1)
                return None
            if code in _FATAL:
                if startup:
                    raise RuntimeError(f"Slack refused the app token: {code}") from None
                self._halt("refused", f"Slack refused the app token ({code})")
                return None
            self._fail(f"apps.connections.open: {code}")
            return None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            if startup:
                log.warning("slack: apps.connections.open failed (%r); retrying", exc)
            self._fail(repr(exc))
            return None
        url = answer.get("url")
        return url if isinstance(url, str) else None

    async def _connect(self, url: str | None = None) -> None:
        url = url or await self._open_url()
        if url is None or self.state != "running":
            return
        session = self._session()
        assert session is not None
        try:
            ws = await asyncio.wait_for(session.ws_connect(
                url, autoping=False, heartbeat=None, max_msg_size=self.config.max_payload_bytes
            ), self.config.hello_timeout)  # fmt: skip
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            self._fail(f"WebSocket: {exc!r}")
            return
        link = Link(ws, self._on_frame, self.config.ping_interval, self.config.stale_after)
        self.links.append(link)
        self._spawn(self._watch(link))

    async def _watch(self, link: Link) -> None:
        hello = asyncio.get_running_loop().call_later(
            self.config.hello_timeout, lambda: self._spawn(self._no_hello(link))
        )
        await link.run()
        hello.cancel()
        self.links.remove(link)
        self._count("links_closed", 1)
        if link.close_reason == "stale":
            self._count("links_stale", 1)
        if self.state == "running":
            if link.hello_at is None or not link.replaced:
                self._fail(link.close_reason or "closed")
            self._wake.set()

    async def _no_hello(self, link: Link) -> None:
        if link.hello_at is None and link.state == CONNECTING:
            await link.close(f"no hello within {self.config.hello_timeout}s")

    # -- frames ---------------------------------------------------------------------------

    async def _on_frame(self, link: Link, text: str) -> None:
        frame = parse_frame(text)
        if isinstance(frame, Inbound):
            if link.in_flight >= MAX_IN_FLIGHT:
                # Not acknowledged: Slack delivers it again, once we have caught up.
                self._count("refused_busy", 1)
                why = "slack: %d envelopes in flight on link %d; one left for Slack to redeliver"
                self._log(logging.WARNING, "busy", why, link.in_flight, link.id)
                return
            link.begin_envelope()
            self._spawn(self._envelope(link, frame))
        elif isinstance(frame, Hello):
            link.hello_at = time.time()
            if link.state == CONNECTING:
                link.state = OPEN
            self._failures = 0
            self._hellos += 1
            self.reconnects = max(0, self._hellos - self.config.connections)
            self._spawn(self._retire_drained())
        elif isinstance(frame, Disconnect):
            await self._disconnect(link, frame.reason)
        else:
            assert isinstance(frame, Malformed)
            self._count("frames_malformed", 1)
            self._log(logging.WARNING, "malformed", "slack: malformed Socket Mode frame: %s",
                      frame.reason)  # fmt: skip

    async def _envelope(self, link: Link, inbound: Inbound) -> None:
        try:
            await self._handle(link, inbound)
        finally:
            link.end_envelope()

    async def _disconnect(self, link: Link, reason: str) -> None:
        self.last_disconnect = reason
        self._count(f"disconnect.{reason}"[:60], 1)
        decision = on_disconnect(reason, self.config.too_many_backoff)
        if decision.stop:
            self._halt("disabled", f"Slack sent disconnect {reason!r}: Socket Mode is off for "
                       "this app; not reconnecting")  # fmt: skip
            return
        if decision.pause:
            self._defer(decision.pause)
        log.info("slack: disconnect %r on link %d", reason, link.id)
        link.state = DRAINING
        link.replaced = True
        if decision.close_now:
            await link.close(f"disconnect {reason}")
        self._wake.set()  # a replacement is due (after the pause, if any)

    async def _retire_drained(self) -> None:
        """Close draining links once enough fresh links said hello, after their
        envelopes in flight were answered."""
        ready = [link for link in self.links if link.state == OPEN]
        if len(ready) < self.config.connections:
            return
        for link in [k for k in self.links if k.state == DRAINING]:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    link.idle.wait(), self.config.ack_wait + self.config.send_timeout
                )
            await link.close("replaced")

    def _halt(self, state: str, why: str) -> None:
        self.state = state
        log.error("slack: %s", why)
        for link in list(self.links):
            self._spawn(link.close(state))

    def status(self) -> dict[str, Any]:
        return {"state": self.state, "reconnects": self.reconnects,
                "last_disconnect": self.last_disconnect,
                "links": [link.status() for link in self.links]}  # fmt: skip

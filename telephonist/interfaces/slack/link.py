"""``Link``: one Socket Mode WebSocket, our end (the I/O; decisions are the supervisor's).

A link reads frames and hands each to the supervisor's ``on_frame`` in order; it pings
every ``ping_interval`` seconds and treats ``stale_after`` seconds without any frame
(a pong counts) as a dead connection: a half-open TCP connection, a NAT that dropped
the mapping, a Slack edge that stopped answering. Pings and pongs are handled here
(``autoping=False``) so that a pong is traffic the stale check sees. ``send`` never
raises: an ack that cannot be written is reported as ``False``.

States: ``connecting`` (socket open, no ``hello`` yet), ``open``, ``draining`` (Slack
asked for a replacement; envelopes still arrive and are acknowledged here), ``closed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

__all__ = ["CLOSED", "CONNECTING", "DRAINING", "OPEN", "Link"]

CONNECTING, OPEN, DRAINING, CLOSED = "connecting", "open", "draining", "closed"
_ids = itertools.count(1)


class Link:
    def __init__(
        self,
        ws: aiohttp.ClientWebSocketResponse,
        on_frame: Callable[[Link, str], Awaitable[None]],
        ping_interval: float,
        stale_after: float,
    ) -> None:
        self.id = next(_ids)
        self.ws = ws
        self._on_frame = on_frame
        self._ping_interval = ping_interval
        self._stale_after = stale_after
        self.state = CONNECTING
        self.opened_at = time.time()
        self.hello_at: float | None = None
        self.close_reason = ""
        self.replaced = False  # Slack asked for a replacement (a disconnect frame)
        self.envelopes = 0
        self.in_flight = 0  # envelopes taken here whose ack is not yet decided
        self.outcomes: Counter[str] = Counter()  # acked, not_acked, ack_failed
        self.idle = asyncio.Event()  # set while in_flight == 0
        self.idle.set()
        self.done = asyncio.Event()  # the reader ended

    async def run(self) -> None:
        """Read until the socket ends, goes stale or is closed; never raises."""
        pinger = asyncio.ensure_future(self._ping())
        try:
            while not self.ws.closed:
                try:
                    message = await self.ws.receive(timeout=self._stale_after)
                except TimeoutError:
                    self.close_reason = self.close_reason or "stale"
                    break
                if message.type == aiohttp.WSMsgType.TEXT:
                    await self._on_frame(self, message.data)
                elif message.type == aiohttp.WSMsgType.PING:
                    with contextlib.suppress(ConnectionError, RuntimeError):
                        await self.ws.pong(message.data)
                elif message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING,
                                      aiohttp.WSMsgType.CLOSED):  # fmt: skip
                    self.close_reason = self.close_reason or "closed by Slack"
                    break
                elif message.type == aiohttp.WSMsgType.ERROR:
                    self.close_reason = self.close_reason or f"error: {message.data!r}"
                    break
                # PONG and BINARY: traffic, nothing else to do
        except Exception as exc:  # a bug in a frame handler must not leave a zombie link
            self.close_reason = self.close_reason or f"reader failed: {exc!r}"
        finally:
            pinger.cancel()
            await asyncio.gather(pinger, return_exceptions=True)
            self.state = CLOSED
            await self._close_socket()
            self.done.set()

    async def _ping(self) -> None:
        while not self.ws.closed:
            await asyncio.sleep(self._ping_interval)  # the ping cadence, not a poll
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.ws.ping(b"telephonist")

    async def send(self, text: str) -> bool:
        if self.ws.closed:
            return False
        try:
            await self.ws.send_str(text)
        except (ConnectionError, RuntimeError, aiohttp.ClientError):
            return False
        return True

    def begin_envelope(self) -> None:
        self.envelopes += 1
        self.in_flight += 1
        self.idle.clear()

    def end_envelope(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0:
            self.idle.set()

    async def close(self, reason: str) -> None:
        """Close the socket; the reader then ends (``done``)."""
        self.close_reason = self.close_reason or reason
        if self.state != CLOSED:
            self.state = CLOSED
        await self._close_socket()

    async def _close_socket(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), 2.0)

    def status(self) -> dict[str, Any]:
        return {"id": self.id, "state": self.state, "opened_at": round(self.opened_at, 3),
                "last_hello": None if self.hello_at is None else round(self.hello_at, 3),
                "envelopes": self.envelopes, "in_flight": self.in_flight,
                "acks": dict(self.outcomes)}  # fmt: skip

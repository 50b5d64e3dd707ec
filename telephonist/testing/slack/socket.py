"""Socket Mode, Slack's side: WebSocket links, envelopes, acknowledgements, redelivery.

Theory of operation
-------------------
``apps.connections.open`` hands out a single-use ``ws://`` URL (a *ticket*). A client
that connects with it gets ``hello`` and becomes a *link*. Beyond ``max_connections``
live links (Slack: 10 per app) the newcomer gets ``disconnect`` with reason
``too_many_websockets`` and is closed.

A pushed payload becomes a :class:`Delivery` with an ``envelope_id``. Each *attempt*
sends it on one link (round robin over the live links that were not told to
disconnect; a retry goes to another link than the attempt before, when there is one,
as Slack may hand it to any of the app's connections) as
``{"envelope_id", "type", "accepts_response_payload", "retry_attempt",
"retry_reason", "payload"}``. The app acknowledges with ``{"envelope_id"}`` (plus
``payload`` where accepted). Without an ack within ``ack_timeout`` seconds (Slack: 3)
the next attempt goes out with ``retry_attempt + 1`` and ``retry_reason`` "timeout",
up to ``max_retries`` retries; then the delivery has failed. A payload pushed while no
link is up waits for one: its first attempt counts as failed, so it arrives as a retry.

Tests steer acknowledgement: ``ignore_acks`` drops that many acks as if lost,
``ack_delay`` makes acks count only after a while, and ``freeze`` stops reading a link
(no acks, no pongs: a stale connection). ``disconnect`` sends ``{"type":
"disconnect", "reason": ...}``; ``warning`` and ``refresh_requested`` close the link
``refresh_grace`` seconds later, the other reasons at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import secrets
import time
from typing import Any

from aiohttp import WSMsgType, web

from .records import Attempt, Delivery, Link

__all__ = ["REASONS", "Attempt", "Delivery", "Link", "SocketMode"]

REASONS = ("warning", "refresh_requested", "too_many_websockets", "link_disabled")
_CLOSE_LATER = ("warning", "refresh_requested")
TICKET_LIFETIME = 60.0  # seconds an unused URL from apps.connections.open stays valid


class SocketMode:
    def __init__(
        self,
        app_id: str,
        *,
        ack_timeout: float,
        max_retries: int,
        refresh_grace: float,
        max_connections: int,
    ) -> None:
        self.app_id = app_id
        self.ack_timeout = ack_timeout
        self.max_retries = max_retries
        self.refresh_grace = refresh_grace
        self.max_connections = max_connections
        self.base_url = ""  # ws://host:port, set when the server listens
        self.links: list[Link] = []  # every link ever opened, in order
        self.deliveries: dict[str, Delivery] = {}
        self.stray_acks: list[dict[str, Any]] = []  # acks for no known envelope
        self.ignore_acks = 0
        self.ack_delay = 0.0
        self.changed = asyncio.Event()  # set on every link or delivery change
        self._tickets: dict[str, float] = {}
        self._waiting: list[Delivery] = []  # pushed while nothing was connected
        self._ids = itertools.count(1)
        self._turn = 0
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- URLs -----------------------------------------------------------------------------

    def issue_url(self) -> str:
        ticket = secrets.token_hex(16)
        self._tickets[ticket] = time.monotonic() + TICKET_LIFETIME
        return f"{self.base_url}/link/?ticket={ticket}&app_id={self.app_id}"

    def live_links(self) -> list[Link]:
        return [link for link in self.links if link.live]

    # -- the WebSocket endpoint -----------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        expiry = self._tickets.pop(request.query.get("ticket", ""), None)
        if expiry is None or time.monotonic() > expiry:
            return web.Response(status=401, text="invalid or used ticket")
        ws = web.WebSocketResponse(autoping=True, max_msg_size=4 * 1024 * 1024)
        await ws.prepare(request)
        link = Link(next(self._ids), ws, time.monotonic())
        if len(self.live_links()) >= self.max_connections:
            await self._send(link, _disconnect("too_many_websockets"))
            await ws.close()
            return ws
        self.links.append(link)
        self._changed()
        try:
            await self._send(link, self._hello())
            self._flush_waiting()
            await self._read(link)
        finally:
            link.closed.set()
            self._changed()
        return ws

    def _hello(self) -> dict[str, Any]:
        return {
            "type": "hello",
            "num_connections": len(self.live_links()),
            "debug_info": {"host": "applink-standin", "build_number": 1,
                           "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.app_id},
        }  # fmt: skip

    async def _read(self, link: Link) -> None:
        while not link.ws.closed:
            if link.frozen.is_set():
                # Not reading: no acks, and aiohttp answers no pings (a stale link).
                link.not_reading.set()
                await link.closed.wait()
                return
            receive = asyncio.ensure_future(link.ws.receive())
            frozen = asyncio.ensure_future(link.frozen.wait())
            await asyncio.wait({receive, frozen}, return_when=asyncio.FIRST_COMPLETED)
            frozen.cancel()
            if not receive.done():
                receive.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await receive
                continue
            message = receive.result()
            if message.type == WSMsgType.TEXT:
                self._on_frame(link, message.data)
            elif message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED,
                                  WSMsgType.ERROR):  # fmt: skip
                return

    def _on_frame(self, link: Link, data: str) -> None:
        try:
            frame = json.loads(data)
        except ValueError:
            frame = {"unparsable": data}
        link.received.append(frame)
        self._changed()
        envelope_id = frame.get("envelope_id") if isinstance(frame, dict) else None
        if envelope_id is None:
            return
        if self.ignore_acks > 0:
            self.ignore_acks -= 1
            return
        if self.ack_delay > 0:
            loop = asyncio.get_running_loop()
            loop.call_later(self.ack_delay, self._take_ack, link, frame)
        else:
            self._take_ack(link, frame)

    def _take_ack(self, link: Link, frame: dict[str, Any]) -> None:
        delivery = self.deliveries.get(str(frame["envelope_id"]))
        if delivery is None:
            self.stray_acks.append(frame)
            return
        if delivery.ack is not None or delivery.failed:
            return  # a late second ack changes nothing
        delivery.ack, delivery.acked_on, delivery.acked_at = frame, link.id, time.monotonic()
        if delivery._timer is not None:
            delivery._timer.cancel()
        delivery.done.set()
        self._changed()

    # -- deliveries -----------------------------------------------------------------------

    def push(self, kind: str, payload: dict[str, Any], accepts_response_payload: bool) -> Delivery:
        envelope_id = f"{secrets.token_hex(4)}-{secrets.token_hex(2)}-{secrets.token_hex(6)}"
        delivery = Delivery(envelope_id, kind, payload, accepts_response_payload)
        self.deliveries[envelope_id] = delivery
        self._attempt(delivery)
        return delivery

    def _pick(self, avoid: int | None) -> Link | None:
        """The next link, round robin, preferring links not told to disconnect and,
        for a retry, another link than the last attempt's."""
        links = [link for link in self.live_links() if link.disconnect_reason is None]
        links = links or self.live_links()
        links = [link for link in links if link.id != avoid] or links
        if not links:
            return None
        self._turn += 1
        return links[self._turn % len(links)]

    def _attempt(self, delivery: Delivery) -> None:
        if delivery.ack is not None or delivery.failed:
            return
        number = len(delivery.attempts)
        if number > self.max_retries:
            delivery.failed = True
            delivery.done.set()
            self._changed()
            return
        previous = delivery.attempts[-1].link if delivery.attempts else None
        link = self._pick(previous)
        reason = "timeout" if number else ""
        attempt = Attempt(link.id if link else None, number, reason, time.monotonic())
        delivery.attempts.append(attempt)
        if link is None:
            self._waiting.append(delivery)
            return
        frame = {
            "envelope_id": delivery.envelope_id,
            "type": delivery.type,
            "accepts_response_payload": delivery.accepts_response_payload,
            "retry_attempt": number,
            "retry_reason": reason,
            "payload": delivery.payload,
        }
        self._spawn(self._send(link, frame, attempt))
        self._changed()
        loop = asyncio.get_running_loop()
        delivery._timer = loop.call_later(self.ack_timeout, self._attempt, delivery)

    def _flush_waiting(self) -> None:
        waiting, self._waiting = self._waiting, []
        for delivery in waiting:
            self._attempt(delivery)

    # -- disconnects ----------------------------------------------------------------------

    async def disconnect(self, reason: str, link: Link | None = None) -> Link:
        if reason not in REASONS:
            raise ValueError(f"unknown disconnect reason {reason!r}; Slack's are {REASONS}")
        target = link or next(iter(self.live_links()), None)
        if target is None:
            raise LookupError("no Socket Mode connection is open")
        target.disconnect_reason = reason
        await self._send(target, _disconnect(reason))
        if reason in _CLOSE_LATER:
            loop = asyncio.get_running_loop()
            loop.call_later(self.refresh_grace, lambda: self._spawn(self.close(target)))
        else:
            await self.close(target)
        return target

    async def close(self, link: Link) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(link.ws.close(), 2.0)
        link.closed.set()
        self._changed()

    # -- plumbing -------------------------------------------------------------------------

    async def _send(self, link: Link, frame: dict[str, Any], attempt: Attempt | None = None
                    ) -> None:  # fmt: skip
        if link.ws.closed:
            return
        with contextlib.suppress(ConnectionError, RuntimeError):
            await link.ws.send_str(json.dumps(frame))
            if attempt is not None:
                attempt.sent = time.monotonic()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _changed(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()

    async def shutdown(self) -> None:
        for delivery in self.deliveries.values():
            if delivery._timer is not None:
                delivery._timer.cancel()
        for link in self.live_links():
            await self.close(link)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def _disconnect(reason: str) -> dict[str, Any]:
    return {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-standin"}}

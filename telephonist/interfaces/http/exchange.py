"""One request/response exchange: the reply side.

Theory of operation
-------------------
The host calls ``Exchange.on_reply`` with each message that arrives on the request's
reply channel, in order. ``http.response.start`` is held until the first body message
so that head and first body bytes leave in one write; ``http.response.body`` with
``more_body`` streams (h11 chooses chunked encoding when no Content-Length is given,
and close-delimited framing for HTTP/1.0 clients). Whatever ends the exchange
(the last body, a server answer such as 504 or 502, a malformed reply, the client
going away) calls ``finish`` exactly once; ``done`` then resolves and the connection
decides whether to read the next request.

Every exchange has its own reply channel, so a consumer answering after its 504 writes
to a closed channel (counted as orphaned by the host), never into the next response.

An exchange knows its connection only through ``Link`` below (write, close,
backpressure, reporting, freeing the reply channel), not the connection's class, the
server or the host: the same exchange serves a request a mounted app answers in-process
(``asgi.py``), which has no reply channel at all.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, Protocol

import h11

from ...spec.http import RESPONSE_BODY, RESPONSE_START
from ..base import ABORT
from .response import ReplyError, error_events, parse_body, parse_start

__all__ = ["Exchange", "Link"]


class Link(Protocol):
    """What an exchange needs of the HTTP connection it answers on."""

    @property
    def accepting(self) -> bool:
        """False once the server is shutting down (this response is the last one)."""
        ...

    def write(self, data: bytes) -> None: ...

    def close(self) -> None:
        """Close once written data is flushed."""
        ...

    async def drained(self) -> None:
        """Return once the client has taken enough of what was written."""
        ...

    def report(self, counter: str, reason: str) -> None:
        """Count a violation and log it."""
        ...

    def close_reply_channel(self, channel: str) -> None: ...


class Exchange:
    """The state of one request's response."""

    def __init__(self, proto: Link, conn: h11.Connection, request: h11.Request) -> None:
        self.proto = proto
        self.conn = conn
        self.request = request
        self.is_head = request.method == b"HEAD"
        self.reply_channel = ""
        self.started = False  # response head written
        self.completed = False  # response written to its end
        self.finished = False
        self.delivered = False  # the first event is on the layer
        self.single = False  # the request went as one event (no further sends for it)
        self.client_gone = False
        self.request_bytes = 0
        self.body_waited = 0.0  # seconds spent waiting for body bytes (body_min_rate)
        self.client: str | int = ""  # for the access log: the scope's client (proxy-aware)
        self.body_ended = False  # h11 has given the request's EndOfMessage
        self.carry = b""  # body bytes read but not sent yet (over one chunk)
        self.status = 0
        self.body_bytes = 0
        self.started_at = time.monotonic()
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending: h11.Response | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.on_finish: Callable[[Exchange], None] | None = None

    # -- timers -----------------------------------------------------------------------

    def start_response_timer(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(seconds, self._response_timed_out)

    def _response_timed_out(self) -> None:
        self._timer = None
        # The head is written with the first body message: until then the client has
        # nothing, so a start without a body still times out.
        if not self.finished and not self.started:
            self.proto.report("response_timeout", "consumer sent no response in time")
            self.fail(504)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # -- replies ----------------------------------------------------------------------

    async def on_reply(self, message: dict[str, Any]) -> None:
        if self.finished:
            return
        kind = message.get("type")
        try:
            if kind == RESPONSE_START:
                if self._pending is not None or self.started:
                    raise ReplyError("http.response.start sent twice")
                # A request body not all read yet: the connection closes after this
                # response (the rest is never read), and the client is told up front.
                # Shutting down: this is the connection's last response.
                close = self.conn.their_state is not h11.DONE or not self.proto.accepting
                self._pending = parse_start(message, close=close)
            elif kind == RESPONSE_BODY:
                self._body(*parse_body(message))
                # Backpressure: take the next reply only once the client keeps up.
                await self.proto.drained()
            elif kind == ABORT:
                self.proto.report("aborted", f"worker gone: {message.get('reason')}")
                self.fail(502)
            else:
                raise ReplyError(f"unexpected reply type {kind!r}")
        except ReplyError as exc:
            self.proto.report("bad_reply", str(exc))
            self.fail(500)

    def _body(self, body: bytes, more: bool) -> None:
        if self._pending is None and not self.started:
            raise ReplyError("http.response.body before http.response.start")
        out: list[bytes] = []
        try:
            if self._pending is not None:
                self._cancel_timer()
                response, self._pending = self._pending, None
                self.status = response.status_code
                out.append(self.conn.send(response) or b"")
                self.started = True
            if body and not self.is_head:
                out.append(self.conn.send(h11.Data(data=body)) or b"")
                self.body_bytes += len(body)
            if not more:
                out.append(self.conn.send(h11.EndOfMessage()) or b"")
        except h11.LocalProtocolError as exc:
            # Framing broken by the consumer (more bytes than its Content-Length...):
            # the stream can no longer be trusted, so the connection goes.
            self.proto.write(b"".join(out))
            self.proto.report("bad_reply", f"response framing: {exc}")
            self.proto.close()
            self.finish()
            return
        self.proto.write(b"".join(out))
        if not more:
            self.completed = True
            self.finish()
            if self.single:
                # Nothing more will be sent for it, and nothing more is wanted from it:
                # closing here, inside the handler, lets the channel's runner end now
                # instead of parking on the layer until _retire interrupts it.
                self.proto.close_reply_channel(self.reply_channel)

    # -- ending -----------------------------------------------------------------------

    def is_over(self) -> bool:
        return self.finished

    def fail(self, status: int, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        """Answer ``status`` if nothing was sent yet, else close; then finish. Closing
        (not resetting) flushes what was sent, so the client sees a response cut short
        (no final chunk, fewer bytes than Content-Length) and cannot take it as whole."""
        if self.finished:
            return
        if self.started or self.conn.our_state is not h11.SEND_RESPONSE:
            self.proto.close()
        else:
            self.status = status
            self.proto.write(
                b"".join(
                    self.conn.send(ev) or b""
                    for ev in error_events(status, close=True, headers=headers)
                )
            )
            self.proto.close()
        self.finish()

    def finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        self._cancel_timer()
        if self.on_finish is not None:
            self.on_finish(self)
        if not self.done.done():
            self.done.set_result(None)

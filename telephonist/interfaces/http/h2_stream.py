"""One HTTP/2 stream: its request body coming in, its response going out.

Theory of operation
-------------------
An HTTP/2 stream is what an HTTP/1.1 connection's ``Exchange`` plus its ``Reader`` are,
for one request: ``H2Stream`` keeps both sides, and the connection (``h2_connection``)
is its ``StreamLink``: the only way out to ``h2`` and the socket.

*In:* ``feed`` buffers the DATA the connection received for the stream; ``read_body``
takes it in chunks of at most ``body_chunk_bytes`` (waits bounded by ``body_timeout``,
408; more than ``max_body_bytes`` is 413), and only then gives the bytes back to the
flow-control window (``StreamLink.consumed``). So a stream never holds more than its
window: a client that sends faster than the consumer takes is stopped by HTTP/2 flow
control, as TCP stops an HTTP/1.1 client.

*Out:* ``on_reply`` takes the consumer's messages in order, validated by the same
``parse_start``/``parse_body`` as HTTP/1.1 (500 on a malformed one). The head waits
for the first body message, as in HTTP/1.1, so the 504 of ``response_timeout`` holds
until the client has something. Body bytes leave as the peer's flow-control window
allows (``StreamLink.send_data`` waits for WINDOW_UPDATE, bounded by ``write_timeout``),
and the next reply message is taken only after that: a slow reader keeps the rest on
the layer, never in this process. A response cut short (a worker gone, the consumer
breaking framing) is a ``RST_STREAM``; a server answer before any byte (503, 504, 413,
...) is a short plain-text response, as on HTTP/1.1.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, NamedTuple, Protocol

from ...spec.http import RESPONSE_BODY, RESPONSE_START, RESPONSE_TRAILERS
from ..base import ABORT
from .reader import BodyError, Closed, body_wait
from .response import ReplyError, date_header, header_pairs, parse_body, parse_start

__all__ = ["H2Request", "H2Stream", "StreamLink"]

#: RST_STREAM codes (RFC 9113 7).
NO_ERROR, INTERNAL_ERROR, CANCEL = 0x0, 0x2, 0x8

# Connection-specific headers have no place in HTTP/2 (RFC 9113 8.2.2); WSGI and ASGI
# code written for HTTP/1.1 may still send them, so they are dropped, not refused.
_HOP = frozenset(
    (b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade")
)


class H2Request(NamedTuple):
    """What the access log and the scope need of a request (``h11.Request``'s names)."""

    method: bytes
    target: bytes
    http_version: bytes


class StreamLink(Protocol):
    """What a stream needs of its HTTP/2 connection."""

    @property
    def accepting(self) -> bool: ...

    def send_head(self, sid: int, headers: list[tuple[bytes, bytes]], end: bool) -> None:
        """Send a response head; ``ReplyError`` if ``h2`` refuses the headers."""
        ...

    async def send_data(self, sid: int, data: bytes, end: bool) -> bool:
        """Send body bytes as the windows allow; False if the stream or connection went."""
        ...

    def send_error(self, sid: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        """Send a whole short response now (the body only if the window takes it)."""
        ...

    def reset(self, sid: int, code: int) -> None: ...

    def consumed(self, sid: int, n: int) -> None:
        """``n`` received bytes of stream ``sid`` are dealt with: open the windows again."""
        ...

    def report(self, counter: str, reason: str) -> None: ...

    def close_reply_channel(self, channel: str) -> None: ...


def _time_out(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)


class H2Stream:
    def __init__(
        self,
        link: StreamLink,
        sid: int,
        request: H2Request,
        *,
        ended: bool,
        chunk: int,
        max_body: int,
        body_timeout: float,
        body_min_rate: int = 1024,
    ) -> None:
        self.link = link
        self.sid = sid
        self.request = request
        self.is_head = request.method == b"HEAD"
        self.reply_channel = ""
        self.started = False  # response head sent
        self.completed = False  # response sent to its end
        self.finished = False
        self.delivered = False  # the first event is on the layer
        self.single = False  # the request went as one event
        self.client_gone = False
        self.client: str | int = ""
        self.status = 0
        self.body_bytes = 0
        self.started_at = time.monotonic()
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.on_finish: Callable[[H2Stream], None] | None = None
        self._pending: list[tuple[bytes, bytes]] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._response_timeout = 60.0
        # The trailers extension: announced in the start, sent after the last body.
        self._trailers = False
        self._trailing: list[tuple[bytes, bytes]] | None = None  # the last body was sent
        # The request body.
        self.ended = ended  # END_STREAM received
        self.request_bytes = 0
        self._buf = bytearray()
        self._waiter: asyncio.Future[bool] | None = None
        self._chunk, self._max_body, self._body_timeout = chunk, max_body, body_timeout
        self._min_rate = body_min_rate
        self.body_waited = 0.0  # seconds spent waiting for body bytes (body_min_rate)

    # -- the request body ---------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        self._buf += data
        self.request_bytes += len(data)
        self.wake()

    def end_input(self) -> None:
        self.ended = True
        self.wake()

    def wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(True)

    def unread(self) -> int:
        """Received bytes nobody will read now (to give back to the connection window)."""
        n = len(self._buf)
        self._buf.clear()
        return n

    async def read_body(self, *, wait_full: bool, wait_any: bool) -> tuple[bytes, bool]:
        """Up to ``body_chunk_bytes`` and whether it was the end; waits as
        ``Reader.read_body`` does."""
        while True:
            if self.request_bytes > self._max_body:
                raise BodyError(413, "body_too_large", "streamed body over the limit")
            if self.client_gone:
                raise Closed
            size = len(self._buf)
            if size >= self._chunk or self.ended or self.finished:
                break
            if not (wait_full or (wait_any and not size)):
                break
            # The same two bounds as HTTP/1.1 (``reader.body_wait``).
            seconds, counter = body_wait(
                self._body_timeout, self._min_rate, self.request_bytes, self.body_waited
            )
            started = time.monotonic()
            if seconds <= 0 or not await self._wait(seconds):
                self.body_waited += time.monotonic() - started
                raise BodyError(408, counter, f"request body: {counter}")
            self.body_waited += time.monotonic() - started
        data = bytes(self._buf[: self._chunk])
        del self._buf[: self._chunk]
        if data:
            self.link.consumed(self.sid, len(data))
        return data, self.ended and not self._buf

    async def _wait(self, seconds: float) -> bool:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bool] = loop.create_future()
        self._waiter = waiter
        timer = loop.call_later(seconds, _time_out, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None
        return waiter.result()

    # -- timers -----------------------------------------------------------------------

    def start_response_timer(self, seconds: float) -> None:
        self._response_timeout = seconds
        self._timer = asyncio.get_running_loop().call_later(seconds, self._timed_out)

    def _timed_out(self) -> None:
        self._timer = None
        if not self.finished and not self.started:
            self.link.report("response_timeout", "consumer sent no response in time")
            self.fail(504)
        elif not self.finished and self._trailing is not None:
            self.link.report("response_timeout", "consumer sent no trailers in time")
            self.fail(500)  # started: the stream is reset

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
                response = parse_start(message)
                self.status = response.status_code
                self._trailers = bool(message.get("trailers", False))
                self._pending = [
                    (b":status", str(response.status_code).encode("ascii")),
                    *((n, v) for n, v in response.headers if n not in _HOP),
                ]
            elif kind == RESPONSE_BODY:
                if self._trailing is not None:
                    raise ReplyError("http.response.body after the last body")
                await self._body(*parse_body(message))
            elif kind == RESPONSE_TRAILERS:
                self._trailer(message)
            elif kind == ABORT:
                self.link.report("aborted", f"worker gone: {message.get('reason')}")
                self.fail(502)
            else:
                raise ReplyError(f"unexpected reply type {kind!r}")
        except ReplyError as exc:
            self.link.report("bad_reply", str(exc))
            self.fail(500)

    async def _body(self, body: bytes, more: bool) -> None:
        if self.is_head:
            body = b""
        last = not more and not self._trailers  # the stream ends with this message
        if self._pending is not None:
            self._cancel_timer()
            head, self._pending = self._pending, None
            self.link.send_head(self.sid, head, end=last and not body)
            self.started = True
            if last and not body:
                self._complete()
                return
        elif not self.started:
            raise ReplyError("http.response.body before http.response.start")
        if body or last:
            if not await self.link.send_data(self.sid, body, end=last):
                self.finish()
                return
            self.body_bytes += len(body)
        if last:
            self._complete()
        elif not more:
            # Trailers end the stream; they get response_timeout to come.
            self._trailing = []
            self._timer = asyncio.get_running_loop().call_later(
                self._response_timeout, self._timed_out
            )

    def _trailer(self, message: dict[str, Any]) -> None:
        if self._trailing is None:
            raise ReplyError("http.response.trailers before the last body or without trailers=True")
        self._trailing += header_pairs(message.get("headers") or [])
        if not message.get("more_trailers", False):
            self._cancel_timer()
            self.link.send_head(self.sid, self._trailing, end=True)
            self._complete()

    def _complete(self) -> None:
        self.completed = True
        self.finish()
        if self.single:
            self.link.close_reply_channel(self.reply_channel)

    # -- ending -----------------------------------------------------------------------

    def is_over(self) -> bool:
        return self.finished

    def fail(self, status: int, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        """Answer ``status`` if nothing was sent yet, else reset the stream (the client
        sees the response cut short); then finish."""
        if self.finished:
            return
        if self.started or self.client_gone:
            if not self.client_gone:
                self.link.reset(self.sid, INTERNAL_ERROR)
        else:
            self._cancel_timer()
            self._pending = None
            self.status = status
            body = f"{status} {HTTPStatus(status).phrase}\n".encode("ascii")
            self.link.send_error(self.sid, _error_head(status, len(body), headers), body)
            self.started = True
        self.finish()

    def finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        self._cancel_timer()
        self.wake()
        if self.on_finish is not None:
            self.on_finish(self)
        if not self.done.done():
            self.done.set_result(None)


def _error_head(
    status: int, length: int, extra: list[tuple[bytes, bytes]] | None
) -> list[tuple[bytes, bytes]]:
    return [
        (b":status", str(status).encode("ascii")),
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(length).encode("ascii")),
        (b"date", date_header()),
        *(extra or []),
    ]

"""One HTTP/2 stream: its request body coming in, its response going out.

Theory of operation
-------------------
An HTTP/2 stream is what an HTTP/1.1 connection's ``H1Exchange`` plus its ``Reader``
are, for one request: ``H2Stream`` keeps both sides, and the connection
(``h2_connection``) is its ``StreamLink``: the only way out to ``h2`` and the socket.

*In:* ``feed`` buffers the DATA the connection received for the stream; ``read_body``
takes it in chunks of at most ``body_chunk_bytes`` (waits bounded by ``body_timeout``,
408; more than ``max_body_bytes`` is 413), and only then gives the bytes back to the
flow-control window (``StreamLink.consumed``). So a stream never holds more than its
window: a client that sends faster than the consumer takes is stopped by HTTP/2 flow
control, as TCP stops an HTTP/1.1 client.

*Out:* the consumer's messages are sequenced and validated by the same ``Reply`` as on
HTTP/1.1 (``exchange.py``, ``reply.py``), trailers included; this module frames what
it hands out. Body bytes leave as the peer's flow-control window allows
(``StreamLink.send_data`` waits for WINDOW_UPDATE, bounded by ``write_timeout``), and
the next reply message is taken only after that: a slow reader keeps the rest on the
layer, never in this process. A response cut short (a worker gone, the consumer
breaking framing, trailers not in time) is a ``RST_STREAM``; a server answer before any
byte (503, 504, 413, ...) is a short plain-text response, as on HTTP/1.1; response
headers HTTP/2 forbids are dropped.
"""

from __future__ import annotations

import asyncio
import time
from http import HTTPStatus
from typing import Any, Protocol

from .exchange import Exchange, ExchangeLink
from .h2_head import H2Request
from .reader import BodyError, Closed, body_wait
from .response import ReplyError, date_header, parse_start

__all__ = ["H2Request", "H2Stream", "StreamLink"]  # H2Request: from h2_head

#: RST_STREAM codes (RFC 9113 7).
NO_ERROR, INTERNAL_ERROR, CANCEL = 0x0, 0x2, 0x8

# Connection-specific headers have no place in HTTP/2 (RFC 9113 8.2.2); WSGI and ASGI
# code written for HTTP/1.1 may still send them, so they are dropped, not refused.
_HOP = frozenset(
    (b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade")
)


class StreamLink(ExchangeLink, Protocol):
    """What a stream needs of its HTTP/2 connection."""

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


def _time_out(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)


class H2Stream(Exchange[list[tuple[bytes, bytes]]]):
    TRAILERS = True
    link: StreamLink

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
        super().__init__(link, request)
        self.sid = sid
        # The request body.
        self.ended = ended  # END_STREAM received
        self._buf = bytearray()
        self._waiter: asyncio.Future[bool] | None = None
        self._chunk, self._max_body, self._body_timeout = chunk, max_body, body_timeout
        self._min_rate = body_min_rate

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

    async def read_more(self) -> tuple[bytes, bool]:
        """The next body chunk after the first: as soon as the client sent some."""
        return await self.read_body(wait_full=False, wait_any=True)

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

    def _ended(self) -> None:
        self.wake()

    # -- the reply, framed for HTTP/2 (``Exchange``'s hooks) ------------------------------

    def _make_head(self, message: dict[str, Any]) -> list[tuple[bytes, bytes]]:
        response = parse_start(message)
        return [
            (b":status", str(response.status_code).encode("ascii")),
            *((n, v) for n, v in response.headers if n not in _HOP),
        ]

    async def _send(self, head: list[tuple[bytes, bytes]] | None, body: bytes, end: bool) -> None:
        link, sid = self.link, self.sid
        if head is not None:
            try:
                link.send_head(sid, head, end=end and not body)
            except ReplyError as exc:  # h2 refused the headers: nothing went out
                link.report("bad_reply", str(exc))
                self.reply.head_refused()
                self.fail(500)
                return
            if end and not body:
                self._complete()
                return
        if body or end:
            if not await link.send_data(sid, body, end=end):
                self.finish()
                return
            self.body_bytes += len(body)
        if end:
            self._complete()

    def _send_trailers(self, headers: list[tuple[bytes, bytes]]) -> None:
        try:
            self.link.send_head(self.sid, headers, end=True)
        except ReplyError as exc:
            self.link.report("bad_reply", str(exc))
            self.fail(500)  # started: the stream is reset
            return
        self._complete()

    def _can_answer(self) -> bool:
        return not self.client_gone

    def _answer(self, status: int, headers: list[tuple[bytes, bytes]] | None) -> None:
        body = f"{status} {HTTPStatus(status).phrase}\n".encode("ascii")
        self.link.send_error(self.sid, _error_head(status, len(body), headers), body)

    def _cut(self) -> None:
        if not self.client_gone:
            self.link.reset(self.sid, INTERNAL_ERROR)


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

"""The HTTP/1.1 connection: bytes from Twisted in, messages to the layer out.

Theory of operation
-------------------
Twisted owns the socket (TCP, Unix or TLS, from an endpoint string) and calls
``dataReceived``; every byte lands in ``_buf``. One coroutine per connection,
``_serve``, takes them from there, one request at a time:

1. *Head.* ``HeadScanner`` finds the blank line and checks line endings and size
   (431); then the head alone goes through a fresh ``h11.Connection``, plus the checks
   of ``strict`` (400). Waiting is bounded by ``keepalive_timeout`` before the first
   byte and ``header_timeout`` after it (408), which is what stops slow-loris clients.
2. *Event.* The ``http.request`` message (scope keys plus the first body chunk) goes
   to the layer; a full channel is answered 503 with ``Retry-After``.
3. *Body.* Further chunks of at most ``body_chunk_bytes`` follow as more
   ``http.request`` events of the same connection (affinity keeps them in order on one
   worker). They repeat the scope's short routing keys (``method``, ``path``, ...), so
   the routes that matched the first chunk match them too; ``order`` > 0 tells them
   apart. Each wait for body bytes is bounded by ``body_timeout``.
4. *Response.* The ``Exchange`` writes replies as they arrive; the loop waits for it
   to finish (reply done, 504, 502, client gone) and goes back to 1 if both sides
   allow keep-alive. Pipelined requests simply wait in ``_buf``: one exchange at a time
   is what keeps responses in request order.

Reading is paused while ``_buf`` holds more than a head and a chunk, so a fast sender
is slowed by TCP instead of growing memory. Writing is watched through Twisted's
producer API: while the client's send buffer is full, the exchange stops taking reply
messages (they wait on the layer, and the consumer feels the channel's capacity); a
client that reads nothing for ``write_timeout`` seconds is aborted (slow read).

A ``GET`` with ``Upgrade: websocket`` leaves this loop: the connection is handed to the
WebSocket side and ``dataReceived`` forwards bytes to it from then on.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, cast

import h11
from twisted.internet.interfaces import IPushProducer
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure
from zope.interface import implementer  # type: ignore[import-untyped]

from ...core.exceptions import ChannelFull, MessageTooLarge
from .exchange import Exchange
from .response import raw_error
from .strict import HeadError, HeadScanner, check_header_lines

if TYPE_CHECKING:
    from .server import HttpServer

__all__ = ["DISCONNECT_CHANNEL", "REQUEST_CHANNEL", "ROUTING_KEYS", "HttpProtocol"]

REQUEST_CHANNEL = "http.request"
DISCONNECT_CHANNEL = "http.disconnect"
#: Scope keys repeated in every body chunk so route filters match each chunk alike.
ROUTING_KEYS = ("method", "path", "scheme", "http_version", "query_string", "root_path")


class _Closed(Exception):
    """The client went away."""


class _BodyError(Exception):
    def __init__(self, status: int, counter: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.counter, self.reason = status, counter, reason


@implementer(IPushProducer)
class _WriteWatch:
    """Registered with the transport, which pauses it while its send buffer is over
    Twisted's high-water mark. ``Exchange`` awaits ``HttpProtocol.drained`` after each
    body message, so while a client reads slowly the reply channel's messages wait on
    the layer (whose capacity pushes back on the consumer) instead of in memory here."""

    def __init__(self) -> None:
        self.paused = False
        self.waiters: list[asyncio.Future[None]] = []

    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        self.paused = False
        self.release()

    def stopProducing(self) -> None:
        self.paused = False
        self.release()

    def release(self) -> None:
        waiters, self.waiters = self.waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)


class HttpProtocol(Protocol):
    """One client connection (see the module docstring)."""

    def __init__(self, server: HttpServer) -> None:
        self.server = server
        self.cfg = server.config
        self._buf = bytearray()
        self._scanner = HeadScanner(self.cfg.max_header_bytes)
        self._high_water = self.cfg.max_header_bytes + self.cfg.body_chunk_bytes
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False  # the transport is gone
        self._closing = False  # we asked it to go
        self._reading_paused = False
        self._exchange: Exchange | None = None
        self._task: asyncio.Task[None] | None = None
        self._watch = _WriteWatch()
        self.ws: Any = None  # the WebSocket protocol after an upgrade
        self.requests = 0
        #: Resolves when the connection is gone (shutdown waits on it).
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    # -- Twisted callbacks ------------------------------------------------------------

    def connectionMade(self) -> None:
        # Twisted's zope interfaces do not type-check as Python protocols: the transport
        # (TCP, Unix or TLS) is used through this untyped alias.
        self.tr: Any = cast(Any, self.transport)
        self.endpoint = self.server.endpoint_of(self.tr)
        self.tr.registerProducer(self._watch, True)
        self._task = asyncio.get_running_loop().create_task(self._serve())

    def dataReceived(self, data: bytes) -> None:
        if self.ws is not None:
            self.ws.dataReceived(data)
            return
        self._buf += data
        if len(self._buf) > self._high_water and not self._reading_paused:
            self._reading_paused = True
            self.tr.pauseProducing()
        self._wake()

    def connectionLost(self, reason: Failure | None = None) -> None:
        self._closed = True
        self.server.forget(self)
        if not self.lost.done():
            self.lost.set_result(None)
        self._watch.release()
        if self.ws is not None:
            self.ws.connectionLost(reason)
            return
        ex = self._exchange
        if ex is not None and not ex.finished:
            ex.client_gone = True
            ex.finish()
        self._wake()

    # -- output -----------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        if data and not self._closed:
            self.tr.write(data)

    async def drained(self) -> None:
        """Return once the client has taken enough of what was written (at once if it
        keeps up). A client that takes nothing for ``write_timeout`` seconds (slow read)
        is cut off."""
        if not self._watch.paused or self._closed or self._closing:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._watch.waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, self.cfg.write_timeout)
        except TimeoutError:
            self.server.violation("slow_read", "client does not read", self.endpoint.peer_host)
            self.abort()

    def close(self) -> None:
        """Close once written data is flushed."""
        if not self._closing and not self._closed:
            self._closing = True
            self.tr.loseConnection()
        self._wake()

    def abort(self) -> None:
        """Drop the connection now, unsent data included."""
        if not self._closed:
            self._closing = True
            self.tr.abortConnection()
        self._wake()

    def drain(self) -> None:
        """Shutdown: finish the exchange in flight, if any, and read no further request."""
        if self.ws is None and self._exchange is None:
            self.close()

    def refuse(self, status: int, counter: str, reason: str) -> None:
        """Answer an error without h11 state (bad or slow head) and close."""
        self.server.violation(counter, reason, self.endpoint.peer_host)
        headers = [(b"retry-after", str(self.cfg.retry_after).encode())] if status == 503 else []
        self.write(raw_error(status, headers))
        self.close()

    # -- input ------------------------------------------------------------------------

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def _wait(self, seconds: float) -> bool:
        """Wait for more bytes (or a wake-up); ``False`` on timeout, ``_Closed`` if the
        connection is gone."""
        if self._closed or self._closing:
            raise _Closed
        if self._reading_paused:
            self._reading_paused = False
            self.tr.resumeProducing()
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait_for(self._waiter, seconds)
        except TimeoutError:
            return False
        finally:
            self._waiter = None
        if self._closed:
            raise _Closed
        return True

    # -- the request loop -------------------------------------------------------------

    async def _serve(self) -> None:
        first = True
        try:
            while not self._closing:
                size = await self._read_head(first)
                if size < 0 or not await self._request(size):
                    break
                first = False
        except _Closed:
            pass
        except Exception:
            self.server.log.exception("HTTP connection from %s failed", self.endpoint.peer_host)
            self.abort()
        finally:
            if self._exchange is not None:
                await self._retire(self._exchange)
            if self.ws is None:
                self.close()

    async def _read_head(self, first: bool) -> int:
        loop = asyncio.get_running_loop()
        self._scanner.reset()
        deadline: float | None = None
        idle = self.cfg.header_timeout if first else self.cfg.keepalive_timeout
        while True:
            if self._buf:
                deadline = deadline or loop.time() + self.cfg.header_timeout
                if self._buf[0] < 0x21:
                    # Whitespace or a control byte (a blank line included) cannot start a
                    # request line. h11 refuses this at once, and so do we: RFC 9112 2.2
                    # only says a server SHOULD skip blank lines, and ambiguity is
                    # what smuggling is made of.
                    self.refuse(400, "bad_request", "request line starts with whitespace")
                    return -1
                try:
                    size = self._scanner.feed(self._buf)
                except HeadError as exc:
                    self.refuse(exc.status, exc.counter, exc.reason)
                    return -1
                if size >= 0:
                    return size
            remaining = idle if deadline is None else deadline - loop.time()
            if remaining <= 0 or not await self._wait(remaining):
                if self._buf:
                    self.refuse(408, "header_timeout", "request head not complete in time")
                return -1

    def _parse_head(self, head: bytes) -> tuple[h11.Connection, h11.Request]:
        check_header_lines(head, self.cfg.max_header_count)
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=self.cfg.max_header_bytes + 4)
        conn.receive_data(head)
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as exc:
            status = exc.error_status_hint if 400 <= exc.error_status_hint < 500 else 400
            raise HeadError(status, f"h11: {exc}", "bad_request") from exc
        if not isinstance(event, h11.Request):
            raise HeadError(400, "incomplete request head", "bad_request")
        return conn, event

    async def _request(self, size: int) -> bool:
        """Serve one request whose head is ``_buf[:size]``; whether to read another."""
        head = bytes(self._buf[:size])
        del self._buf[:size]
        try:
            conn, request = self._parse_head(head)
        except HeadError as exc:
            self.refuse(exc.status, exc.counter, exc.reason)
            return False
        self.requests += 1
        headers: list[tuple[bytes, bytes]] = list(request.headers)
        if self.server.websocket is not None and _wants_websocket(request.method, headers):
            self._upgrade(conn, head, request)
            return False
        length, chunked = _framing(headers)
        if length is not None and length > self.cfg.max_body_bytes:
            self.refuse(413, "body_too_large", f"declared body of {length} bytes")
            return False
        ex = self._exchange = Exchange(self, conn, request)
        ex.on_finish = lambda _ex: self._wake()
        ex.reply_channel = await self.server.host.open_reply_channel(ex.on_reply, prefix="http")
        has_body = chunked or bool(length)
        try:
            await self._stream(ex, has_body, small=length is not None and length <= self._chunk)
        except _BodyError as exc:
            self.server.violation(exc.counter, exc.reason, self.endpoint.peer_host)
            ex.fail(exc.status)
        await ex.done
        await self._retire(ex)
        if self._closing or self._closed or not self.server.accepting:
            return False
        if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
            return False
        # Bytes h11 took in beyond this request belong to the next (pipelining).
        self._buf[:0] = conn.trailing_data[0]
        return True

    @property
    def _chunk(self) -> int:
        return self.cfg.body_chunk_bytes

    async def _stream(self, ex: Exchange, has_body: bool, small: bool) -> None:
        # A small declared body travels in the first message (one message per request
        # for most POSTs); a bigger one starts with what is already here. Without a
        # body this just takes h11's EndOfMessage, so keep-alive state is right.
        body, done = await self._read_body(ex, wait_full=small or not has_body, wait_any=False)
        scope = self.server.scope_for("http", ex.request, self.endpoint)
        message: dict[str, Any] = {
            "type": "http.request",
            **scope,
            "body": body,
            "more_body": not done,
        }
        routing = {key: scope[key] for key in ROUTING_KEYS}
        if not await self._send(ex, REQUEST_CHANNEL, message):
            return
        ex.delivered = True
        ex.start_response_timer(self.cfg.response_timeout)
        if ex.conn.they_are_waiting_for_100_continue:
            self.write(ex.conn.send(h11.InformationalResponse(status_code=100, headers=[])) or b"")
        while not done and not ex.finished:
            body, done = await self._read_body(ex, wait_full=False, wait_any=True)
            if ex.is_over():  # the response may have ended while we read
                break
            more = {"type": "http.request", **routing, "body": body, "more_body": not done}
            if not await self._send(ex, REQUEST_CHANNEL, more):
                return

    async def _send(self, ex: Exchange, channel: str, message: dict[str, Any]) -> bool:
        try:
            await self.server.host.send_event(channel, message, connection=ex.reply_channel)
        except ChannelFull:
            self.server.violation("channel_full", f"{channel} is full", self.endpoint.peer_host)
            ex.fail(503, [(b"retry-after", str(self.cfg.retry_after).encode())])
            return False
        except MessageTooLarge as exc:
            self.server.violation("message_too_large", str(exc), self.endpoint.peer_host)
            ex.fail(413 if message.get("body") else 431)
            return False
        return True

    async def _read_body(
        self, ex: Exchange, *, wait_full: bool, wait_any: bool
    ) -> tuple[bytes, bool]:
        """Up to ``body_chunk_bytes`` of body and whether it was the end. Waits until the
        end or a full chunk (``wait_full``), until any bytes (``wait_any``), or not at all.
        h11 may hand over more than a chunk at once (one big HTTP chunk): the excess is
        kept in ``ex.carry`` for the next call."""
        conn = ex.conn
        parts = [ex.carry] if ex.carry else []
        size = len(ex.carry)
        ex.carry = b""
        while size < self._chunk and not ex.body_ended:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:  # bad chunked framing
                raise _BodyError(400, "bad_request", f"h11: {exc}") from exc
            if event is h11.NEED_DATA:
                if self._buf:
                    conn.receive_data(bytes(self._buf[: self._chunk]))
                    del self._buf[: self._chunk]
                    continue
                if self._closed:
                    raise _Closed
                if ex.finished or not (wait_full or (wait_any and not size)):
                    break
                if not await self._wait(self.cfg.body_timeout):
                    raise _BodyError(408, "body_timeout", "request body stalled")
                continue
            if isinstance(event, h11.Data):
                parts.append(event.data)
                size += len(event.data)
                ex.request_bytes += len(event.data)
                if ex.request_bytes > self.cfg.max_body_bytes:
                    raise _BodyError(413, "body_too_large", "streamed body over the limit")
            elif isinstance(event, h11.EndOfMessage):
                ex.body_ended = True
            else:
                raise _BodyError(400, "bad_request", f"unexpected {type(event).__name__}")
        data = b"".join(parts)
        if len(data) > self._chunk:
            data, ex.carry = data[: self._chunk], data[self._chunk :]
        return data, ex.body_ended and not ex.carry

    async def _retire(self, ex: Exchange) -> None:
        """After an exchange: tell the consumer if it was cut short, free its channel,
        log it."""
        self._exchange = None
        if not ex.finished:
            ex.finish()
        host = self.server.host
        if ex.reply_channel:
            if ex.delivered and not ex.completed:
                try:
                    await host.send_event(
                        DISCONNECT_CHANNEL,
                        {"type": "http.disconnect"},
                        connection=ex.reply_channel,
                    )
                except Exception as exc:  # best effort: the client is gone anyway.
                    self.server.log.debug("http.disconnect not sent: %s", exc)
            host.close_reply_channel(ex.reply_channel)
        self.server.access(self, ex)

    def _upgrade(self, conn: h11.Connection, head: bytes, request: h11.Request) -> None:
        rest = conn.trailing_data[0] + bytes(self._buf)
        self._buf.clear()
        self.tr.unregisterProducer()
        if self._reading_paused:
            self._reading_paused = False
            self.tr.resumeProducing()
        assert self.server.websocket is not None
        self.ws = self.server.websocket.upgrade(self, head, rest, request)


def _wants_websocket(method: bytes, headers: list[tuple[bytes, bytes]]) -> bool:
    if method != b"GET":
        return False
    upgrade = connection = False
    for name, value in headers:
        if name == b"upgrade":
            upgrade = upgrade or b"websocket" in value.lower()
        elif name == b"connection":
            connection = connection or any(
                t.strip() == b"upgrade" for t in value.lower().split(b",")
            )
    return upgrade and connection


def _framing(headers: list[tuple[bytes, bytes]]) -> tuple[int | None, bool]:
    """``(content_length, chunked)``; h11 has validated both already."""
    length: int | None = None
    chunked = False
    for name, value in headers:
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = True
    return length, chunked

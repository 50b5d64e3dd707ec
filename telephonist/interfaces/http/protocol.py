"""The HTTP/1.1 connection: bytes from Twisted in, messages to the layer out.

Theory of operation
-------------------
Twisted owns the socket (TCP, Unix or TLS, from an endpoint string) and calls
``dataReceived``; every byte lands in the ``Reader``'s buffer. One coroutine per connection,
``_serve``, takes them from there, one request at a time:

1. *Head.* ``HeadScanner`` finds the blank line and checks line endings and size
   (431); then the head alone goes through a fresh ``h11.Connection``, plus the checks
   of ``strict`` (400). Waiting is bounded by ``keepalive_timeout`` before the first
   byte and ``header_timeout`` after it (408), which is what stops slow-loris clients.
2. *Event.* The ``http.request`` message (scope keys plus the first body chunk) goes
   to the layer (``intake.py``, shared with HTTP/2); a full channel is answered 503
   with ``Retry-After``. A request whose body came whole with it (no body, or a small
   one) is a single-event connection, without affinity; its wait is bounded by
   ``response_timeout`` only.
3. *Body.* Further chunks of at most ``body_chunk_bytes`` follow as more
   ``http.request`` events of the same connection (affinity keeps them in order on one
   worker), each wait for body bytes bounded by ``body_timeout``.
4. *Response.* The ``H1Exchange`` writes replies as they arrive; the loop waits for it
   to finish (reply done, 504, 502, client gone) and goes back to 1 if both sides
   allow keep-alive. Pipelined requests simply wait in the buffer: one exchange at a time
   is what keeps responses in request order.

Flow control both ways: ``Reader`` stops reading a client that sends faster than
requests are served, and ``WriteWatch`` stops taking reply messages while a client
reads slower than the consumer writes (see ``flow``).

Two detours, both decided once the head passed every check. A request an *upgrader*
wants (``Upgrade: websocket``) leaves this loop: the connection is handed over
(``interfaces/upgrade.py``) and ``dataReceived`` forwards bytes to the new protocol from
then on. A request for a *mounted* path (``interfaces/mounts.py``) is answered
in-process by an ASGI app (``asgi.py``) instead of going to the layer, through the same
``H1Exchange``, and the loop goes on as after any request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

import h11
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure

from ...spec.http import (
    REQUEST,
    HTTPRequestEvent,
    HTTPScope,
)
from ..sendnow import can_send_now
from ..sendnow import write as write_now
from ..upgrade import Upgraded, Upgrader, UpgradeRequest
from .asgi import serve_app
from .flow import WriteWatch
from .h1_exchange import H1Exchange
from .h2_connection import Http2Connection
from .h2_guard import sniff
from .intake import deliver, retire
from .reader import BodyError, Closed, Reader
from .response import raw_error
from .scope import split_target
from .state import ServerState
from .strict import HeadError, framing, parse_head

__all__ = ["HttpProtocol"]

#: Bounds of a lingering close (``HttpProtocol.linger``). Many clients (http.client,
#: requests) read the answer only once they have sent the whole body: the server must
#: take it all, or they see a broken pipe instead of the 413. Bounded in time (a client
#: that never stops holds the connection 2 s) and in bytes (discarded as they come).
LINGER_SECONDS = 2.0
LINGER_BYTES = 64 * 1024 * 1024


class HttpProtocol(Protocol):
    """One client connection (see the module docstring). ``forget`` is called with it
    once it is gone (the factory's set of open connections)."""

    def __init__(self, state: ServerState, forget: Callable[[HttpProtocol], None]) -> None:
        self.state = state
        self.cfg = state.config
        self._forget = forget
        #: The ``Exchange``'s way to free its reply channel (bound once per connection).
        self.close_reply_channel = state.host.close_reply_channel
        self.reader = Reader(self.cfg, self._pause_reading)
        self._closed = False  # the transport is gone
        self._closing = False  # we asked it to go
        self._lingering = False  # closed for writing; reading to discard (``linger``)
        self._lingered = 0
        self._linger_timer: asyncio.TimerHandle | None = None
        self._exchange: H1Exchange | None = None
        self._task: asyncio.Task[None] | None = None
        self._watch = WriteWatch()
        self.upgraded: Upgraded | None = None  # the protocol that took the connection over
        #: The HTTP/2 connection this one turned into (ALPN ``h2`` or the h2c preface).
        self.h2: Http2Connection | None = None
        # The first bytes, kept until they tell HTTP/1.1 from the HTTP/2 preface; None
        # once decided (or with HTTP/2 off).
        self._sniff: bytes | None = b"" if self.cfg.http2.enabled else None
        self.requests = 0
        # Made once, not per request: an exchange ending wakes a wait for body bytes.
        self._on_finish: Callable[[H1Exchange], None] = lambda _ex: self.reader.wake()
        #: Resolves when the connection is gone (shutdown waits on it).
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    # -- Twisted callbacks ------------------------------------------------------------

    def connectionMade(self) -> None:
        # Twisted's zope interfaces do not type-check as Python protocols: the transport
        # (TCP, Unix or TLS) is used through this untyped alias.
        self.tr: Any = cast(Any, self.transport)
        # Plain TCP and Unix sockets (not TLS) can take a write straight away (sendnow.py).
        self._direct = can_send_now(self.tr)
        self.endpoint = self.state.endpoint_of(self.tr)
        self.tr.registerProducer(self._watch, True)
        self._task = asyncio.get_running_loop().create_task(self._serve())

    def dataReceived(self, data: bytes) -> None:
        if self._lingering:
            self._lingered += len(data)
            if self._lingered > LINGER_BYTES:
                self._linger_over()
            return
        if self.upgraded is not None:
            self.upgraded.dataReceived(data)
            return
        if self.h2 is not None:
            self.h2.dataReceived(data)
            return
        if self._sniff is not None:
            data = self._sniff + data
            alpn = getattr(self.tr, "negotiatedProtocol", None) if self.endpoint.tls else None
            verdict = True if alpn == b"h2" else sniff(data)
            if verdict is None:
                self._sniff = data
                return
            self._sniff = None
            if verdict:
                self._to_h2(data)
                return
        self.reader.feed(data)

    def _to_h2(self, data: bytes) -> None:
        """Serve HTTP/2 from here on: the request loop stops (it has read nothing)."""
        self.h2 = Http2Connection(self.state, self, self.endpoint)
        self.reader.closed = True
        self.reader.wake()
        self.h2.dataReceived(data)

    def _pause_reading(self, pause: bool) -> None:
        if pause:
            self.tr.pauseProducing()
        else:
            self.tr.resumeProducing()

    def connectionLost(self, reason: Failure | None = None) -> None:
        self._closed = True
        if self._linger_timer is not None:
            self._linger_timer.cancel()
            self._linger_timer = None
        self._forget(self)
        if not self.lost.done():
            self.lost.set_result(None)
        self._watch.release()
        if self.upgraded is not None:
            self.upgraded.connectionLost(reason)
            return
        if self.h2 is not None:
            self.h2.connectionLost(reason)
        ex = self._exchange
        if ex is not None and not ex.finished:
            ex.client_gone = True
            ex.finish()
        self._stop_reading()

    # -- for the exchange (``exchange.Link``) -----------------------------------------

    @property
    def accepting(self) -> bool:
        return self.state.accepting

    def report(self, counter: str, reason: str) -> None:
        self.state.violation(counter, reason)

    # -- output -----------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        if data and not self._closed:
            write_now(self.tr, data, self._direct)

    async def drained(self) -> None:
        """Return once the client has taken enough of what was written (at once if it
        keeps up); cut off a client that takes nothing for ``write_timeout`` seconds."""
        if self._closed or self._closing:
            return
        if not await self._watch.drained(self.cfg.write_timeout):
            self.state.violation("slow_read", "client does not read", self.endpoint.peer_host)
            self.abort()

    def close(self) -> None:
        """Close once written data is flushed; with the request's body not read to its
        end (an answer given mid-body: 408, 413, 503), a lingering close instead."""
        ex = self._exchange
        if self._direct and ex is not None and ex.conn.their_state is h11.SEND_BODY:
            self.linger()
            return
        if not self._closing and not self._closed:
            self._closing = True
            self.tr.loseConnection()
        self._stop_reading()

    def linger(self) -> None:
        """Close after an answer sent before the request was read to its end (a 413 for
        a declared body, a 503 while the body still streams in). Closing a socket with
        unread input makes the kernel send a reset, which can destroy the answer before
        the client reads it. So, as nginx's lingering close: send what is written and
        our FIN, then read and discard what the client still sends until it closes, for
        at most ``LINGER_SECONDS`` and ``LINGER_BYTES``; then drop the connection."""
        if self._closing or self._closed:
            return
        if not self._direct:  # TLS and others: no half-close here; a plain close
            self.close()
            return
        self._closing = self._lingering = True
        self._stop_reading()
        self.tr.resumeProducing()  # the reader may have paused it: read to discard
        self.tr.loseWriteConnection()
        loop = asyncio.get_running_loop()
        self._linger_timer = loop.call_later(LINGER_SECONDS, self._linger_over)

    def _linger_over(self) -> None:
        self._linger_timer = None
        if not self._closed:
            self.tr.abortConnection()

    def abort(self) -> None:
        """Drop the connection now, unsent data included."""
        if not self._closed:
            self._closing = True
            self.tr.abortConnection()
        self._stop_reading()

    def _stop_reading(self) -> None:
        self.reader.closed = self._closed or self._closing
        self.reader.wake()

    def drain(self) -> None:
        """Shutdown: finish the exchange in flight, if any, and read no further request."""
        if self.h2 is not None:
            self.h2.drain()
        elif self.upgraded is None and self._exchange is None:
            self.close()

    def refuse(self, status: int, counter: str, reason: str) -> None:
        """Answer an error without h11 state (bad or slow head) and close."""
        self.state.violation(counter, reason, self.endpoint.peer_host)
        headers = [(b"retry-after", str(self.cfg.retry_after).encode())] if status == 503 else []
        self.write(raw_error(status, headers))
        self.linger()

    # -- the request loop -------------------------------------------------------------

    async def _serve(self) -> None:
        first = True
        try:
            while not self._closing:
                try:
                    size = await self.reader.read_head(first)
                except HeadError as exc:
                    self.refuse(exc.status, exc.counter, exc.reason)
                    break
                if size < 0 or not await self._request(size):
                    break
                first = False
        except Closed:
            pass
        except Exception:
            self.state.log.exception("HTTP connection from %s failed", self.endpoint.peer_host)
            self.abort()
        finally:
            ex = self._exchange
            if ex is not None:
                self._exchange = None
                await retire(self.state, ex, self.endpoint.peer_host)
            if self.upgraded is None and self.h2 is None:
                self.close()

    async def _request(self, size: int) -> bool:
        """Serve one request whose head is ``reader.buf[:size]``; whether to read another."""
        head = bytes(self.reader.buf[:size])
        del self.reader.buf[:size]
        try:
            conn, request = parse_head(head, self.cfg.max_header_count, self.cfg.max_header_bytes)
        except HeadError as exc:
            self.refuse(exc.status, exc.counter, exc.reason)
            return False
        self.requests += 1
        state = self.state
        headers: list[tuple[bytes, bytes]] = list(request.headers)
        for upgrader in state.upgraders:
            if upgrader.wants(request.method, headers):
                self._upgrade(conn, head, request, headers, upgrader)
                return False
        length, chunked = framing(headers)
        if length is not None and length > self.cfg.max_body_bytes:
            self.refuse(413, "body_too_large", f"declared body of {length} bytes")
            return False
        ex = self._exchange = H1Exchange(self, conn, request)
        ex.on_finish = self._on_finish
        app = state.mounts.find(split_target(request.target)[0]) if state.mounts.table else None
        peer = self.endpoint.peer_host
        if app is not None:
            await serve_app(
                app,
                self._scope(ex, headers),
                ex,
                self._read_more,
                violation=lambda counter, reason: state.violation(counter, reason, peer),
                response_timeout=self.cfg.response_timeout,
            )
        else:
            ex.reply_channel = await state.host.open_reply_channel(ex.on_reply, prefix="http")
            try:
                # A small declared body travels in the first message (one message per
                # request for most POSTs); a bigger one starts with what is already
                # here. Without a body this just takes h11's EndOfMessage, so keep-alive
                # state is right.
                small = length is not None and length <= self.cfg.body_chunk_bytes
                body, done = await self.reader.read_body(
                    ex, wait_full=small or not (chunked or length), wait_any=False
                )
                scope = self._scope(ex, headers)
                message: HTTPRequestEvent = {
                    "type": REQUEST, **scope, "body": body, "more_body": not done
                }  # fmt: skip
                await deliver(state, ex, message, self._read_more, peer)
            except BodyError as exc:
                state.violation(exc.counter, exc.reason, peer)
                ex.fail(exc.status)
        await ex.done
        self._exchange = None
        await retire(state, ex, peer)
        if self._closing or self._closed or not state.accepting:
            return False
        if conn.their_state is not h11.DONE:
            self.linger()  # answered before the body was all read
            return False
        if conn.our_state is not h11.DONE:
            return False
        # Bytes h11 took in beyond this request belong to the next (pipelining).
        self.reader.buf[:0] = conn.trailing_data[0]
        return True

    async def _read_more(self) -> tuple[bytes, bool]:
        """The request's next body chunk (after the first), once the client sent some;
        a client waiting for ``100 Continue`` is told to go on first."""
        ex = self._exchange
        assert ex is not None
        conn = ex.conn
        if conn.they_are_waiting_for_100_continue:
            self.write(conn.send(h11.InformationalResponse(status_code=100, headers=[])) or b"")
        return await self.reader.read_body(ex, wait_full=False, wait_any=True)

    def _scope(self, ex: H1Exchange, headers: list[tuple[bytes, bytes]]) -> HTTPScope:
        scope = self.state.scope_for("http", ex.request, headers, self.endpoint)
        client = scope["client"]
        ex.client = client[0] if client else "unix"
        return scope

    def _upgrade(
        self,
        conn: h11.Connection,
        head: bytes,
        request: h11.Request,
        headers: list[tuple[bytes, bytes]],
        upgrader: Upgrader,
    ) -> None:
        """Hand the connection to ``upgrader``: stop reading and producing for it, and
        forward everything from here on (see ``interfaces/upgrade.py``)."""
        rest = conn.trailing_data[0] + bytes(self.reader.buf)
        self.reader.buf.clear()
        self.reader.closed = True  # the upgraded protocol reads from now on
        self.tr.unregisterProducer()
        self.tr.resumeProducing()
        scope = self.state.scope_for(upgrader.scope_type, request, headers, self.endpoint)
        self.upgraded = upgrader.upgrade(UpgradeRequest(self.tr, scope, head + rest))

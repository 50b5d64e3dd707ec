"""The input side of one HTTP connection: the byte buffer, bounded waits for more bytes,
reading a request head and reading a body in bounded chunks.

Every byte Twisted delivers lands in ``buf`` (``feed``). While the buffer holds more
than a head and a chunk, reading from the socket is paused, so a fast sender is slowed
by TCP instead of growing memory; it resumes when the request loop waits for more.
Every wait is bounded by one of the configured timeouts. A head goes through
``HeadScanner`` (size, line endings) before h11 sees it; a body goes through the
request's h11 connection at most ``body_chunk_bytes`` at a time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol

import h11

from .config import HttpConfig
from .strict import HeadError, HeadScanner

__all__ = ["BodyError", "BodyState", "Closed", "Reader", "body_wait"]


class Closed(Exception):
    """The client went away (or we are closing): stop reading."""


class BodyError(Exception):
    """The body broke a rule: answer ``status`` (if nothing was sent yet) and close."""

    def __init__(self, status: int, counter: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.counter, self.reason = status, counter, reason


class BodyState(Protocol):
    """Where one request's body reading stands (the exchange keeps it, so no object is
    made per request for it)."""

    conn: h11.Connection  # the request's h11 connection, which de-frames the body
    carry: bytes  # bytes h11 gave beyond the last chunk, for the next one
    body_ended: bool  # h11 gave the request's EndOfMessage
    request_bytes: int  # body bytes read so far
    body_waited: float  # seconds spent waiting for body bytes so far

    def is_over(self) -> bool:
        """The response ended already: stop waiting for body bytes."""
        ...


_BODY_REASONS = {
    "body_timeout": "request body stalled",
    "body_too_slow": "request body slower than body_min_rate",
}


def body_wait(
    body_timeout: float, min_rate: int, received: int, waited: float
) -> tuple[float, str]:
    """How long the next wait for body bytes may last, and what ends it if nothing
    comes: ``body_timeout`` for one gap (a stall), within the body's total allowance of
    ``body_timeout`` plus one second per ``min_rate`` bytes received, of which
    ``waited`` seconds are spent. Only time spent waiting on the client counts: while
    the server does not read (its layer is full) the client is not slow."""
    allowance = body_timeout + received / min_rate - waited
    if allowance < body_timeout:
        return max(allowance, 0.0), "body_too_slow"
    return body_timeout, "body_timeout"


def _time_out(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)


class Reader:
    """``pause(True)`` stops reading the socket, ``pause(False)`` resumes it."""

    def __init__(self, cfg: HttpConfig, pause: Callable[[bool], None]) -> None:
        self.cfg = cfg
        self.buf = bytearray()
        self.closed = False  # set by the connection when the transport is gone or going
        self._pause = pause
        self._paused = False
        self._high_water = cfg.max_header_bytes + cfg.body_chunk_bytes
        self._chunk = cfg.body_chunk_bytes
        self._scanner = HeadScanner(cfg.max_header_bytes)
        self._waiter: asyncio.Future[bool] | None = None

    def feed(self, data: bytes) -> None:
        self.buf += data
        if len(self.buf) > self._high_water and not self._paused:
            self._paused = True
            self._pause(True)
        self.wake()

    def wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(True)

    async def wait(self, seconds: float) -> bool:
        """Wait for more bytes (or a wake-up); ``False`` on timeout, ``Closed`` if the
        connection is gone."""
        if self.closed:
            raise Closed
        if self._paused:
            self._paused = False
            self._pause(False)
        # A timer that resolves the waiter, not ``asyncio.wait_for``: this wait runs at
        # least once per request, and wait_for's wrapping costs several times as much.
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bool] = loop.create_future()
        self._waiter = waiter
        timer = loop.call_later(seconds, _time_out, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None
        if self.closed:
            raise Closed
        return waiter.result()

    async def read_head(self, first: bool) -> int:
        """The length of the next request head in ``buf``; ``-1`` when the connection
        idled out (close silently); ``HeadError`` to refuse (408 for a slow head)."""
        loop = asyncio.get_running_loop()
        self._scanner.reset()
        deadline: float | None = None
        idle = self.cfg.header_timeout if first else self.cfg.keepalive_timeout
        while True:
            if self.buf:
                deadline = deadline or loop.time() + self.cfg.header_timeout
                if self.buf[0] < 0x21:
                    # Whitespace or a control byte (a blank line included) cannot start a
                    # request line. h11 refuses this at once, and so do we: RFC 9112 2.2
                    # only says a server SHOULD skip blank lines, and ambiguity is what
                    # smuggling is made of.
                    raise HeadError(400, "request line starts with whitespace", "bad_request")
                size = self._scanner.feed(self.buf)
                if size >= 0:
                    return size
            remaining = idle if deadline is None else deadline - loop.time()
            if remaining <= 0 or not await self.wait(remaining):
                if self.buf:
                    raise HeadError(408, "request head not complete in time", "header_timeout")
                return -1

    async def _wait_for_body(self, ex: BodyState) -> None:
        cfg = self.cfg
        seconds, counter = body_wait(
            cfg.body_timeout, cfg.body_min_rate, ex.request_bytes, ex.body_waited
        )
        if seconds <= 0:
            raise BodyError(408, counter, _BODY_REASONS[counter])
        started = time.monotonic()
        arrived = await self.wait(seconds)
        ex.body_waited += time.monotonic() - started
        if not arrived:
            raise BodyError(408, counter, _BODY_REASONS[counter])

    async def read_body(
        self, ex: BodyState, *, wait_full: bool, wait_any: bool
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
                raise BodyError(400, "bad_request", f"h11: {exc}") from exc
            if event is h11.NEED_DATA:
                if self.buf:
                    conn.receive_data(bytes(self.buf[: self._chunk]))
                    del self.buf[: self._chunk]
                    continue
                if self.closed:
                    raise Closed
                if ex.is_over() or not (wait_full or (wait_any and not size)):
                    break
                await self._wait_for_body(ex)
                continue
            if isinstance(event, h11.Data):
                parts.append(event.data)
                size += len(event.data)
                ex.request_bytes += len(event.data)
                if ex.request_bytes > self.cfg.max_body_bytes:
                    raise BodyError(413, "body_too_large", "streamed body over the limit")
            elif isinstance(event, h11.EndOfMessage):
                ex.body_ended = True
            else:
                raise BodyError(400, "bad_request", f"unexpected {type(event).__name__}")
        data = b"".join(parts)
        if len(data) > self._chunk:
            data, ex.carry = data[: self._chunk], data[self._chunk :]
        return data, ex.body_ended and not ex.carry

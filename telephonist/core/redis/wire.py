"""``Wire``: one Redis connection whose replies go to callbacks as they arrive.

Theory of operation
-------------------
redis-py opens every connection and sets it up: TCP, TLS or a unix socket, the master a
Sentinel names, ``AUTH``, ``SELECT``, keepalive. ``Wire.attach`` then takes the
connection's asyncio transport over by swapping its protocol for a ``Wire``. From there:

- ``write(data, expected)`` writes pipelined commands at once (no await: the transport
  buffers) and queues, in order, who is owed the replies: ``(n, callback)`` pairs, each
  callback called with its list of ``n`` replies;
- every chunk the socket delivers is parsed at once (hiredis when installed, else the
  small RESP2 parser below) and each complete reply goes to the oldest entry, whose
  callback runs, inside ``data_received``, as soon as its last reply is in.

Why: redis-py's ``read_response`` is a coroutine over a ``StreamReader``; every reply
costs a wake-up of the task awaiting it (one event-loop iteration), timeout machinery,
and, for the layer, a second wake-up to hand on what was read. On a ``Wire`` a blocking
pop's reply is filed to the receiver waiting for it, and the next pop written, in the
callback that parsed it: measured, a layer round trip went from about 9.7 loop
iterations to about 5.

Error replies arrive as exception instances of redis-py's own classes
(``NoScriptError``, ``MovedError``, ...), in place of the reply. A lost connection fails
every entry still owed with ``ConnectionError`` (the callback gets the exception instead
of a list); nothing is retried here: whether a retry is safe is the caller's decision
(at-most-once, see ``node.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any, cast

from redis._parsers.base import BaseParser
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import InvalidResponse

try:
    from hiredis import Reader as _HiredisReader
except ImportError:  # the pure-Python parser below takes over
    _HiredisReader = None  # type: ignore[assignment,misc]

__all__ = ["HAVE_HIREDIS", "Callback", "PyReader", "Wire", "make_reader"]

logger = logging.getLogger("telephonist.layer.redis")

Callback = Callable[[Any], None]  # called with list[reply], or the exception that ended it
HAVE_HIREDIS = _HiredisReader is not None


def _error(message: str) -> Exception:
    # redis-py's mapping of error codes to classes, so callers catch what they always did.
    error: Exception = BaseParser.parse_error(message)  # type: ignore[no-untyped-call]
    return error


class _Incomplete(Exception):
    """The buffer ends inside a reply; ``need`` bytes in all are needed (0: unknown)."""

    def __init__(self, need: int = 0) -> None:
        self.need = need


_INCOMPLETE = _Incomplete()


class PyReader:
    """A RESP2 reply parser with hiredis's ``feed``/``gets`` interface, for when hiredis
    is not installed (``gets`` returns ``False`` until a whole reply is buffered).

    A reply that arrives in many chunks (a pop of hundreds of messages) is not re-parsed
    on every chunk: an incomplete bulk string records how many bytes it needs."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pos = 0
        self._need = 0

    def feed(self, data: bytes) -> None:
        self._buf += data

    def gets(self) -> Any:
        buf = self._buf
        if len(buf) < self._need or self._pos >= len(buf):
            return False
        try:
            reply, self._pos = self._parse(self._pos)
        except _Incomplete as incomplete:
            self._need = incomplete.need
            return False
        self._need = 0
        if self._pos == len(buf):
            buf.clear()
            self._pos = 0
        elif self._pos > 65536:
            del buf[: self._pos]
            self._pos = 0
        return reply

    def _parse(self, pos: int) -> tuple[Any, int]:
        buf = self._buf
        end = buf.find(b"\r\n", pos)
        if end < 0:
            raise _INCOMPLETE
        kind = buf[pos]
        if kind == 36:  # $ bulk string
            size = int(buf[pos + 1 : end])
            if size < 0:
                return None, end + 2
            stop = end + 2 + size
            if len(buf) < stop + 2:
                raise _Incomplete(stop + 2)
            return bytes(buf[end + 2 : stop]), stop + 2
        if kind == 42:  # * array
            count = int(buf[pos + 1 : end])
            if count < 0:
                return None, end + 2
            items = []
            pos = end + 2
            for _ in range(count):
                item, pos = self._parse(pos)
                items.append(item)
            return items, pos
        if kind == 58:  # : integer
            return int(buf[pos + 1 : end]), end + 2
        if kind == 43:  # + simple string
            return bytes(buf[pos + 1 : end]), end + 2
        if kind == 45:  # - error
            return _error(buf[pos + 1 : end].decode(errors="replace")), end + 2
        raise InvalidResponse(f"unexpected RESP type byte {kind!r}")


def make_reader(prefer_hiredis: bool = True) -> Any:
    """A reply parser: hiredis's when installed (measured ~9x faster than ``PyReader`` on
    a one-message pop, ~1.2x on a pop of 100)."""
    if prefer_hiredis and HAVE_HIREDIS:
        return _HiredisReader(protocolError=InvalidResponse, replyError=_error)
    return PyReader()


class Wire(asyncio.Protocol):
    """See the module docstring. ``closed`` turns true as soon as the connection is known
    to be gone (EOF, error, ``close()``); a closed wire is never written to again."""

    def __init__(self, transport: asyncio.Transport, keep: object, name: str) -> None:
        self.transport = transport
        self.name = name
        self.closed = False
        self.client_id: int | None = None  # learnt with CLIENT ID (see popper.py)
        self._keep = keep  # the StreamWriter: collected, it would close our transport
        self._reader = make_reader()
        self._expected: deque[tuple[int, Callback]] = deque()
        self._replies: list[Any] = []
        self._lost_callbacks: list[Callable[[], None]] = []

    @classmethod
    def attach(cls, conn: AbstractConnection, name: str) -> Wire:
        """Take over ``conn``, connected and set up by redis-py; ``conn`` is left
        disconnected (it may be connected again to make another wire)."""
        reader = getattr(conn, "_reader", None)
        writer = getattr(conn, "_writer", None)
        if not isinstance(writer, asyncio.StreamWriter):
            raise RedisConnectionError(f"Redis {name}: connection is not open")
        # Any loop's transport (uvloop's too) has set_protocol; no isinstance check.
        transport = cast(asyncio.Transport, writer.transport)
        wire = cls(transport, writer, name)
        conn._reader = conn._writer = None
        transport.set_protocol(wire)
        if isinstance(reader, asyncio.StreamReader):
            # Nothing should be buffered after the handshake; if the server said more,
            # it is a reply to nobody and the connection cannot be trusted.
            leftover = bytes(getattr(reader, "_buffer", b""))
            if leftover or reader.at_eof():
                wire.close()
        return wire

    # -- writing --------------------------------------------------------------------

    def write(self, data: bytes, expected: list[tuple[int, Callback]]) -> None:
        """Write ``data`` (pipelined commands) and queue who gets their replies."""
        if self.closed:
            error = RedisConnectionError(f"Redis {self.name}: connection closed")
            for _, callback in expected:
                callback(error)
            return
        self._expected.extend(expected)
        self.transport.write(data)

    def on_lost(self, callback: Callable[[], None]) -> None:
        self._lost_callbacks.append(callback)

    def close(self) -> None:
        if not self.closed:
            self.transport.close()  # connection_lost follows, failing what is owed
            self._fail(RedisConnectionError(f"Redis {self.name}: connection closed"))

    def abort(self, error: Exception) -> None:
        """Drop the connection at once, failing what is owed with ``error``."""
        if not self.closed:
            self.transport.abort()
            self._fail(error)

    # -- asyncio.Protocol -------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        reader = self._reader
        reader.feed(data)
        expected = self._expected
        replies = self._replies
        while True:
            try:
                reply = reader.gets()
            except Exception as exc:  # a protocol error: the stream is out of step
                logger.warning("Redis %s: unreadable reply: %s", self.name, exc)
                self.abort(RedisConnectionError(f"Redis {self.name}: {exc}"))
                return
            if reply is False:
                return
            if not expected:
                logger.warning("Redis %s: a reply nobody asked for; reconnecting", self.name)
                self.abort(RedisConnectionError(f"Redis {self.name}: unexpected reply"))
                return
            replies.append(reply)
            n, callback = expected[0]
            if len(replies) < n:
                continue
            expected.popleft()
            done, self._replies = replies, []
            replies = self._replies
            try:
                callback(done)
            except Exception:
                logger.exception("Redis %s: reply handler failed; reconnecting", self.name)
                self.abort(RedisConnectionError(f"Redis {self.name}: reply handler failed"))
                return
            if self.closed:
                return

    def eof_received(self) -> bool | None:
        self.closed = True  # connection_lost follows: nothing more will be written
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        message = f"Redis {self.name}: connection lost" + (f": {exc}" if exc else "")
        self._fail(RedisConnectionError(message))

    def _fail(self, error: Exception) -> None:
        self.closed = True
        expected, self._expected = self._expected, deque()
        self._replies = []
        for _, callback in expected:
            try:
                callback(error)
            except Exception:
                logger.exception("Redis %s: failure handler failed", self.name)
        callbacks, self._lost_callbacks = self._lost_callbacks, []
        for lost in callbacks:
            lost()

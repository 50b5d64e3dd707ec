"""The write side of an HTTP/2 connection: what its streams send, as the windows allow.

``H2Output`` is the ``StreamLink`` (``h2_stream.py``) and ``TunnelLink``
(``h2_tunnel.py``) of every stream of a connection: heads, bodies, resets, and the
received bytes given back to the flow-control windows. Frames queue in ``h2`` and leave
in one write at the end of the loop's turn (``flush``). A body waits for the client's
window (``send_data``) for at most ``write_timeout`` seconds, then its stream is reset;
the next reply message is taken only once this one is written, so what a slow client
does not take stays on the layer. ``Http2Connection`` (``h2_connection.py``) adds the
reading side.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Protocol

import h2.connection
import h2.exceptions

from .h2_stream import CANCEL
from .response import ReplyError
from .scope import Endpoint
from .state import ServerState

__all__ = ["H2Output", "Outlet"]


class Outlet(Protocol):
    """The HTTP connection's way out: the transport behind it."""

    #: The Twisted transport (for its addresses).
    transport: Any

    def write(self, data: bytes) -> None: ...

    async def drained(self) -> None: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...


class H2Output:
    def __init__(
        self, state: ServerState, out: Outlet, endpoint: Endpoint, conn: h2.connection.H2Connection
    ) -> None:
        self.state = state
        self.out = out
        self.endpoint = endpoint
        self.conn = conn
        self.close_reply_channel = state.host.close_reply_channel
        self._closed = False
        self._windows: dict[int, asyncio.Future[None]] = {}
        self._loop = asyncio.get_running_loop()
        self._flushing = False  # a flush_now is scheduled
        # Many streams write small frames at different moments: with Nagle's algorithm
        # each would wait for the ACK of the one before (40 ms of delayed ACK), so
        # HTTP/2 servers (nghttp2, Go) turn it off. HTTP/1.1 writes a response at once.
        with contextlib.suppress(AttributeError, OSError):
            out.transport.setTcpNoDelay(True)

    # -- StreamLink: what streams ask of the connection -------------------------------

    @property
    def accepting(self) -> bool:
        return self.state.accepting

    def report(self, counter: str, reason: str) -> None:
        self.state.violation(counter, reason, self.endpoint.peer_host)

    def send_head(self, sid: int, headers: list[tuple[bytes, bytes]], end: bool) -> None:
        if self._closed:
            return
        try:
            self.conn.send_headers(sid, headers, end_stream=end)
        except h2.exceptions.StreamClosedError:
            return
        except h2.exceptions.ProtocolError as exc:
            raise ReplyError(f"response headers refused: {exc}") from exc
        self.flush()

    def send_error(self, sid: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        if self._closed:
            return
        try:
            fits = self.conn.local_flow_control_window(sid) >= len(body)
            self.conn.send_headers(sid, headers, end_stream=not fits)
            if fits:
                self.conn.send_data(sid, body, end_stream=True)
        except h2.exceptions.ProtocolError:
            return  # the stream is closed already
        self.flush()

    async def send_data(self, sid: int, data: bytes, end: bool) -> bool:
        conn, pos, size = self.conn, 0, len(data)
        timeout = self.state.config.write_timeout
        while not self._closed:
            try:
                room = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size)
                step = min(room, size - pos)
                if step > 0 or pos == size:
                    last = pos + step == size
                    conn.send_data(sid, data[pos : pos + step], end_stream=end and last)
                    pos += step
                    self.flush()
                    if last:
                        await self.out.drained()
                        return not self._closed
                    continue
            except h2.exceptions.ProtocolError:
                return False  # reset by the client meanwhile
            if not await self._window(sid, timeout):
                self.report("slow_read", "client opened no flow-control window in time")
                self.reset(sid, CANCEL)
                return False
        return False

    def reset(self, sid: int, code: int) -> None:
        if self._closed:
            return
        try:
            self.conn.reset_stream(sid, code)
        except h2.exceptions.ProtocolError:
            return  # closed already
        self.flush()

    def consumed(self, sid: int, n: int) -> None:
        if not self._closed:
            self.conn.acknowledge_received_data(n, sid)
            self.flush()

    def flush(self) -> None:
        """Write what h2 has queued, at the end of this turn of the loop: the frames of
        every stream answered in the same turn leave in one write (one segment, one
        syscall) instead of one each."""
        if not self._flushing:
            self._flushing = True
            self._loop.call_soon(self.flush_now)

    def flush_now(self) -> None:
        self._flushing = False
        data = self.conn.data_to_send()
        if data and not self._closed:
            self.out.write(data)

    # -- waiting for a window -----------------------------------------------------------

    async def _window(self, sid: int, seconds: float) -> bool:
        waiter = self._windows.get(sid)
        if waiter is None or waiter.done():
            waiter = self._windows[sid] = self._loop.create_future()
        try:
            await asyncio.wait_for(asyncio.shield(waiter), seconds)
        except TimeoutError:
            if self._windows.get(sid) is waiter:
                del self._windows[sid]  # nobody else waits on it: keep the table small
            return False
        return True

    def _wake(self, sid: int) -> None:
        waiter = self._windows.pop(sid, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _wake_all(self) -> None:
        for sid in list(self._windows):
            self._wake(sid)

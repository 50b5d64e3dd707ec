"""One HTTP/1.1 request/response exchange: the reply framed by h11, onto the socket.

``Exchange`` (``exchange.py``) and ``Reply`` (``reply.py``) decide what goes out; this
is how it goes out over HTTP/1.x. The held head leaves with the first body bytes in
one write; ``more_body`` streams (h11 chooses chunked encoding when no Content-Length
is given, and close-delimited framing for HTTP/1.0 clients); after each body message
the next one is taken only once the client keeps up (``Link.drained``). A head says
``Connection: close`` when the request body is not all read yet (the rest is never
read, and the client is told up front) or the server is shutting down (this is the
connection's last response). A consumer breaking the framing (more bytes than its
Content-Length...) closes the connection: the stream can no longer be trusted. The
server's own answer (504, 502, 500...) closes it too, and a response already started
is cut short by closing (not resetting), which flushes what was sent, so the client
sees it incomplete (no final chunk, fewer bytes than Content-Length).

The exchange also keeps where the request's body reading stands (``reader.BodyState``).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Protocol

import h11

from .exchange import Exchange, ExchangeLink
from .response import error_events, parse_start

__all__ = ["H1Exchange", "Link"]


class Link(ExchangeLink, Protocol):
    """What an HTTP/1.1 exchange needs of the connection it answers on."""

    def write(self, data: bytes) -> None: ...

    def close(self) -> None:
        """Close once written data is flushed."""
        ...

    async def drained(self) -> None:
        """Return once the client has taken enough of what was written."""
        ...


class H1Exchange(Exchange[h11.Response]):
    link: Link
    request: h11.Request

    def __init__(self, link: Link, conn: h11.Connection, request: h11.Request) -> None:
        self.conn = conn
        super().__init__(link, request)
        self.body_ended = False  # h11 has given the request's EndOfMessage
        self.carry = b""  # body bytes read but not sent yet (over one chunk)

    def _make_head(self, message: dict[str, Any]) -> h11.Response:
        # A request body not all read yet, or the server shutting down: the connection
        # closes after this response (see the module docstring).
        close = self.conn.their_state is not h11.DONE or not self.link.accepting
        return parse_start(message, close=close)

    def _send(self, head: h11.Response | None, body: bytes, end: bool) -> Awaitable[None]:
        conn, out = self.conn, []
        try:
            if head is not None:
                out.append(conn.send(head) or b"")
            if body:
                out.append(conn.send(h11.Data(data=body)) or b"")
                self.body_bytes += len(body)
            if end:
                out.append(conn.send(h11.EndOfMessage()) or b"")
        except h11.LocalProtocolError as exc:
            self.link.write(b"".join(out))
            self.link.report("bad_reply", f"response framing: {exc}")
            self.link.close()
            self.finish()
        else:
            self.link.write(b"".join(out))
            if end:
                self._complete()
        # Backpressure: take the next reply only once the client keeps up.
        return self.link.drained()

    def _can_answer(self) -> bool:
        return self.conn.our_state is h11.SEND_RESPONSE

    def _answer(self, status: int, headers: list[tuple[bytes, bytes]] | None) -> None:
        events = error_events(status, close=True, headers=headers)
        self.link.write(b"".join(self.conn.send(ev) or b"" for ev in events))
        self.link.close()

    def _cut(self) -> None:
        self.link.close()

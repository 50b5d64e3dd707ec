"""WebSockets over HTTP/2 (RFC 8441): one stream carried as if it were a TCP connection.

Theory of operation
-------------------
RFC 8441 opens a WebSocket with an extended CONNECT on one stream (``:method CONNECT``,
``:protocol websocket``) and answers ``:status 200`` instead of ``101``; from then on
the stream's DATA frames carry the WebSocket frames both ways, unchanged. Everything
else (the held handshake, origins, subprotocols, frame and message limits, the
consumer's ``websocket.*`` messages) is what HTTP/1.1 WebSockets already have, in the
upgrader the HTTP connection hands sockets to (``interfaces/upgrade.py``).

So the stream is given to that same upgrader as a connection (``open_tunnel``, when
the connection sees the CONNECT):

* ``handshake_head`` writes the HTTP/1.1 upgrade request the CONNECT stands for (its
  path, headers and a fresh ``Sec-WebSocket-Key``), which the upgrader parses as usual;
* ``StreamTransport`` is the transport it gets: ``write`` turns its HTTP/1.1 answer
  into the HTTP/2 one (``101`` becomes ``200``, a refusal keeps its status and body;
  connection-specific headers and ``Sec-WebSocket-Accept`` are dropped) and everything
  after into DATA; ``loseConnection`` ends the stream, ``abortConnection`` resets it;
  ``pauseProducing`` holds back the stream's WINDOW_UPDATEs, so a client writing
  faster than its frames reach the layer is stopped by flow control.

What waits to be sent is bounded: over ``max_buffer`` bytes (the peer opens no window)
the stream is reset and counted ``slow_read``, as a reader that never reads is cut off
on HTTP/1.1.
"""

from __future__ import annotations

import asyncio
import base64
import os
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.python.failure import Failure

from ..upgrade import Upgraded, UpgradeRequest
from .h2_head import Head
from .scope import Endpoint, www_scope
from .state import ServerState

__all__ = ["StreamTransport", "TunnelLink", "handshake_head", "open_tunnel"]

_DROP = frozenset(
    (b"connection", b"upgrade", b"sec-websocket-accept", b"transfer-encoding", b"keep-alive")
)


class TunnelLink(Protocol):
    """What a tunnel needs of its HTTP/2 connection (``Http2Connection`` gives it)."""

    def send_head(self, sid: int, headers: list[tuple[bytes, bytes]], end: bool) -> None: ...

    async def send_data(self, sid: int, data: bytes, end: bool) -> bool: ...

    def send_error(self, sid: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None: ...

    def reset(self, sid: int, code: int) -> None: ...

    def consumed(self, sid: int, n: int) -> None: ...

    def report(self, counter: str, reason: str) -> None: ...

    def tunnel_closed(self, sid: int) -> None: ...


def open_tunnel(
    link: TunnelLink,
    state: ServerState,
    endpoint: Endpoint,
    under: Any,
    sid: int,
    head: Head,
    opened: Callable[[StreamTransport], None],
) -> None:
    """An extended CONNECT: hand stream ``sid`` (of the connection on Twisted transport
    ``under``) to the upgrader that takes the HTTP/1.1
    request it stands for, or answer it (501 for a protocol not served here, or what
    the head's checks found). ``opened`` gets the tunnel before the upgrader sees it
    (which may already end it: a refused origin)."""
    assert head.protocol is not None
    path, headers = head.request.target, head.headers
    as_h1 = [(b"upgrade", head.protocol), (b"connection", b"upgrade"), *headers]
    upgrader = next((u for u in state.upgraders if u.wants(b"GET", as_h1)), None)
    problem = head.problem
    if problem is None and upgrader is None:
        problem = (501, "bad_request", "extended CONNECT for a protocol not served here")
    if problem is not None or upgrader is None:
        status, counter, reason = problem or (501, "bad_request", "no upgrader")
        link.report(counter, reason)
        link.send_error(sid, [(b":status", str(status).encode()), (b"content-length", b"0")], b"")
        return
    cfg = state.config
    tunnel = StreamTransport(link, sid, under, max(1 << 20, 2 * cfg.websocket.max_message_bytes))
    opened(tunnel)
    scope = www_scope(
        kind=upgrader.scope_type,
        method=b"GET",
        target=path,
        http_version=b"2",
        headers=headers,
        endpoint=endpoint,
        forwarded=state.proxies.forwarded(endpoint.peer_host, headers),
        root_path=cfg.root_path,
    )
    tunnel.protocol = upgrader.upgrade(UpgradeRequest(tunnel, scope, handshake_head(path, headers)))


def handshake_head(path: bytes, headers: list[tuple[bytes, bytes]]) -> bytes:
    """The HTTP/1.1 upgrade request an RFC 8441 CONNECT stands for."""
    key = base64.b64encode(os.urandom(16))
    lines = [b"GET " + path + b" HTTP/1.1", b"Upgrade: websocket", b"Connection: Upgrade"]
    lines.append(b"Sec-WebSocket-Key: " + key)
    lines += [n + b": " + v for n, v in headers if n not in _DROP and n != b"sec-websocket-key"]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def _answer(head: bytes) -> list[tuple[bytes, bytes]]:
    """Status and HTTP/2 headers of the upgrader's HTTP/1.1 answer."""
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    headers = [(b":status", b"200" if status == 101 else str(status).encode("ascii"))]
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name and name not in _DROP:
            headers.append((name, value.strip()))
    return headers


class StreamTransport:
    """The Twisted transport an upgraded protocol sees for one HTTP/2 stream."""

    disconnecting = False

    def __init__(self, link: TunnelLink, sid: int, under: Any, max_buffer: int) -> None:
        self.link, self.sid, self.under = link, sid, under
        self.protocol: Upgraded | None = None
        self._max_buffer = max_buffer
        self._head: bytes | None = b""  # the HTTP/1.1 answer while it is being written
        self._out: deque[bytes] = deque()
        self._queued = 0
        self._pump: asyncio.Task[None] | None = None
        self._ending = False  # loseConnection: end the stream once the queue is sent
        self._paused = False
        self._held = 0  # received bytes not yet given back to the window (paused)
        self.closed = False

    # -- from the connection ----------------------------------------------------------

    def received(self, data: bytes) -> None:
        if self.closed or self.protocol is None:
            self.link.consumed(self.sid, len(data))
            return
        if self._paused:
            self._held += len(data)
        else:
            self.link.consumed(self.sid, len(data))
        self.protocol.dataReceived(data)

    def lost(self, clean: bool = True) -> None:
        """The stream is over: ended (``clean``), or reset, or its connection gone."""
        if self.closed:
            return
        self.closed = True
        if self._pump is not None and self._pump is not asyncio.current_task():
            self._pump.cancel()
        self.link.tunnel_closed(self.sid)
        if self.protocol is not None:
            # Autobahn reads the reason as Twisted gives it for TCP.
            reason = ConnectionDone() if clean else ConnectionLost()
            self.protocol.connectionLost(Failure(reason))  # type: ignore[no-untyped-call]

    # -- the transport interface ------------------------------------------------------

    def write(self, data: bytes) -> None:
        if self.closed or not data:
            return
        if self._head is not None:
            head = self._head + data
            end = head.find(b"\r\n\r\n")
            if end < 0:
                self._head = head
                return
            self._head = None
            headers = _answer(head[:end])
            data = head[end + 4 :]
            # A refusal (403, 503, 504...) keeps its body; the upgrader then loses the
            # connection, which ends the stream.
            self.link.send_head(self.sid, headers, end=False)
            if not data:
                return
        self._out.append(data)
        self._queued += len(data)
        if self._queued > self._max_buffer:
            self.link.report("slow_read", "WebSocket over HTTP/2: peer opens no window")
            self.abortConnection()
            return
        if self._pump is None:
            self._pump = asyncio.get_running_loop().create_task(self._send())

    def writeSequence(self, data: list[bytes]) -> None:
        self.write(b"".join(data))

    async def _send(self) -> None:
        try:
            while self._out:
                data = self._out.popleft()
                self._queued -= len(data)
                if not await self.link.send_data(self.sid, data, end=False):
                    self.lost(clean=False)
                    return
            if self._ending:
                await self.link.send_data(self.sid, b"", end=True)
                self.lost()
        finally:
            self._pump = None

    def loseConnection(self) -> None:
        if self.closed or self._ending:
            return
        self._ending = True
        if self._pump is None:
            self._pump = asyncio.get_running_loop().create_task(self._send())

    def abortConnection(self) -> None:
        if not self.closed:
            self.link.reset(self.sid, 0x8)  # CANCEL
            self.lost(clean=False)

    def pauseProducing(self) -> None:
        self._paused = True

    def resumeProducing(self) -> None:
        self._paused = False
        held, self._held = self._held, 0
        if held and not self.closed:
            self.link.consumed(self.sid, held)

    def stopProducing(self) -> None:
        self.abortConnection()

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        pass  # the queue bound above stands in for write-side backpressure

    def unregisterProducer(self) -> None:
        pass

    def getPeer(self) -> Any:
        return self.under.getPeer()

    def getHost(self) -> Any:
        return self.under.getHost()

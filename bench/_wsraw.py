"""Many light WebSocket clients for ``bench/broadcast.py``: raw asyncio protocols.

A broadcast to 5,000 sockets is over in milliseconds on a good server; a full client
library spends tens of microseconds per received frame, so 5,000 of them in the
measuring process would time the client, not the server. These clients do only what
the protocol requires: the opening handshake, answering pings (servers drop sockets
that do not), and spotting the one text frame a broadcast sends. Frames they send are
masked with an all-zero key (the mask bit is required; the key's value is not).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

__all__ = ["Board", "Member", "members"]

_KEY = b"dGhlIHNhbXBsZSBub25jZQ=="  # any 16 bytes, base64: the server only echoes a hash
_MAX_HEAD = 16_384


def client_frame(opcode: int, payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    else:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    return head + b"\x00\x00\x00\x00" + payload


class Board:
    """Who has the frame being waited for: the time the last member got it."""

    def __init__(self) -> None:
        self.expected = b""
        self.waiting = 0
        self.last = 0.0
        self.duplicates = 0
        self.done: asyncio.Event = asyncio.Event()

    def expect(self, payload: bytes, members: int) -> None:
        self.expected, self.waiting, self.last = payload, members, 0.0
        self.done = asyncio.Event()

    def got(self, member: Member, payload: bytes) -> None:
        if payload != self.expected:
            return
        if member.seen == payload:
            self.duplicates += 1
            return
        member.seen = payload
        self.waiting -= 1
        if self.waiting == 0:
            self.last = time.perf_counter()
            self.done.set()


class Member(asyncio.Protocol):
    def __init__(self, board: Board, opened: asyncio.Future[None]) -> None:
        self.board = board
        self.opened = opened
        self.buf = bytearray()
        self.transport: asyncio.Transport | None = None
        self.seen = b""
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def send_text(self, text: bytes) -> None:
        assert self.transport is not None
        self.transport.write(client_frame(0x1, text))

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.opened.done():
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > _MAX_HEAD:
                    self.opened.set_exception(RuntimeError("handshake answer too long"))
                return
            head = bytes(self.buf[:end])
            del self.buf[: end + 4]
            if not head.startswith(b"HTTP/1.1 101"):
                self.opened.set_exception(RuntimeError(head.split(b"\r\n")[0].decode()))
                return
            self.opened.set_result(None)
        self._frames()

    def _frames(self) -> None:
        buf = self.buf
        while len(buf) >= 2:
            length, start = buf[1] & 0x7F, 2
            if length == 126:
                if len(buf) < 4:
                    return
                length, start = int.from_bytes(buf[2:4], "big"), 4
            elif length == 127:
                if len(buf) < 10:
                    return
                length, start = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < start + length:
                return
            opcode, payload = buf[0] & 0x0F, bytes(buf[start : start + length])
            del buf[: start + length]
            if opcode == 0x9 and self.transport is not None:
                self.transport.write(client_frame(0xA, payload))
            elif opcode == 0x1:
                self.board.got(self, payload)
            elif opcode == 0x8:
                self.closed = True

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.opened.done():
            self.opened.set_exception(exc or RuntimeError("closed during the handshake"))


async def _open_one(port: int, path: str, board: Board) -> Member:
    loop = asyncio.get_running_loop()
    opened: asyncio.Future[None] = loop.create_future()
    _, member = await loop.create_connection(lambda: Member(board, opened), "127.0.0.1", port)
    assert member.transport is not None
    member.transport.write(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n".encode()
        + b"Sec-WebSocket-Key: "
        + _KEY
        + b"\r\n\r\n"
    )
    await asyncio.wait_for(opened, 60)
    return member


@asynccontextmanager
async def members(
    port: int, path: str, count: int, board: Board, batch: int = 50
) -> AsyncIterator[list[Member]]:
    """``count`` open sockets on ``path``, opened ``batch`` at a time (Twisted listens
    with a backlog of 50); aborted on the way out."""
    opened: list[Member] = []
    try:
        for start in range(0, count, batch):
            n = min(batch, count - start)
            got = await asyncio.gather(
                *(_open_one(port, path, board) for _ in range(n)), return_exceptions=True
            )
            opened += [m for m in got if isinstance(m, Member)]
            errors = [e for e in got if isinstance(e, BaseException)]
            if errors:
                raise errors[0]
        yield opened
    finally:
        for member in opened:
            if member.transport is not None:
                member.transport.abort()

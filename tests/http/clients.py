"""Raw-socket clients for malformed, pipelined and slow requests. Every read is bounded
by a timeout; responses are parsed with h11 in the client role, which also checks that
what the server wrote is valid HTTP/1.1."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import h11


@dataclass
class Response:
    status: int
    headers: dict[bytes, bytes]
    body: bytes = b""
    raw_headers: list[tuple[bytes, bytes]] = field(default_factory=list)


async def read_all(reader: asyncio.StreamReader, within: float = 5.0) -> bytes:
    """Everything until the server closes; ``TimeoutError`` if it does not in time."""
    chunks = []
    async with asyncio.timeout(within):
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


async def send_raw(port: int, data: bytes, within: float = 5.0) -> bytes:
    """Send ``data`` (then half-close nothing) and read until the server closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        return await read_all(reader, within)
    finally:
        writer.close()


def parse(data: bytes, methods: list[bytes] | None = None) -> list[Response]:
    """Responses in ``data`` (``methods`` of the requests, for HEAD framing)."""
    methods = list(methods or [])
    out: list[Response] = []
    conn = h11.Connection(h11.CLIENT)
    conn.receive_data(data)
    conn.receive_data(b"")
    current: Response | None = None
    while True:
        method = methods.pop(0) if methods and current is None else b"GET"
        if conn.our_state is h11.IDLE:
            conn.send(h11.Request(method=method, target="/", headers=[("host", "x")]))
            conn.send(h11.EndOfMessage())
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError:
            return out
        if isinstance(event, h11.Response):
            current = Response(event.status_code, dict(event.headers), b"", list(event.headers))
        elif isinstance(event, h11.Data) and current is not None:
            current.body += event.data
        elif isinstance(event, h11.EndOfMessage):
            assert current is not None
            out.append(current)
            current = None
            if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
                conn.start_next_cycle()
            else:
                return out
        elif (
            event is h11.NEED_DATA or isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED
        ):
            return out


def status_of(data: bytes) -> int:
    """Status code of the first response line in ``data`` (0 if none)."""
    if not data.startswith(b"HTTP/1.1 "):
        return 0
    return int(data[9:12])

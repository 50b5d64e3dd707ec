"""A raw HTTP/2 client for tests: ``h2`` for the frames it will send, the socket for
bytes made by hand (attacks). Every read is bounded by a deadline."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings

__all__ = ["Raw"]


class Raw:
    """A client connection driven by hand: ``h2`` for what it will send, raw bytes for
    what it will not."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.events: list[h2.events.Event] = []

    @classmethod
    async def open(cls, port: int, window: int | None = None) -> Raw:
        raw = cls(*await asyncio.open_connection("127.0.0.1", port))
        if window is not None:
            raw.conn.local_settings = h2.settings.Settings(
                client=True, initial_values={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window}
            )
        raw.conn.initiate_connection()
        raw.flush()
        return raw

    def flush(self) -> None:
        self.writer.write(self.conn.data_to_send())

    def request(self, sid: int, path: str = "/", end: bool = True, **extra: str) -> None:
        headers = [(":method", "GET" if end else "POST"), (":path", path)]
        headers += [(":scheme", "http"), (":authority", "127.0.0.1"), *extra.items()]
        self.conn.send_headers(sid, headers, end_stream=end)

    async def until(self, kind: type[h2.events.Event], within: float = 10.0) -> Any:
        """Read until an event of ``kind`` (the connection closing counts as none)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            for event in self.events:
                if isinstance(event, kind):
                    return event
            remaining = deadline - loop.time()
            assert remaining > 0, f"no {kind.__name__} in {within} s: {self.events}"
            data = await asyncio.wait_for(self.reader.read(65536), remaining)
            if not data:
                return None
            # Our own hand-made frames may confuse our own state machine.
            with contextlib.suppress(h2.exceptions.ProtocolError):
                self.events += self.conn.receive_data(data)
            self.writer.write(self.conn.data_to_send())

    async def goaway(self, error_code: int) -> None:
        """Read until the server's GOAWAY, which must carry ``error_code``; then close."""
        gone = await self.until(h2.events.ConnectionTerminated)
        assert gone is not None, f"closed without a GOAWAY: {self.events}"
        assert gone.error_code == error_code
        await self.close()

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()

"""The SMTP load ``bench/email.py`` applies: ``clients`` concurrent senders on asyncio
streams, each on one kept-open connection or a new connection per mail.

A client speaks plain SMTP the way an MTA does: EHLO once per connection, then MAIL,
RCPT, DATA per mail, each command waiting for its reply (no pipelining, so what is
measured is the server's turnaround). Latency is from sending ``DATA`` to the final
reply of the transaction (``250`` after the message's end): what ``acknowledge``
changes. Every read is bounded by ``within``; a refused mail is counted, not retried.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

__all__ = ["Load", "send_mails"]

_MAIL = (
    "From: Ann <ann@bench.test>\r\nTo: room-bench@localhost\r\nSubject: bench {n}\r\n"
    "Message-ID: <{n}.{tag}@bench.test>\r\nContent-Type: text/plain; charset=utf-8\r\n"
    "\r\n" + "A line of text in a mail of a few hundred bytes, like most chat mail.\r\n" * 5
)


@dataclass
class Load:
    sent: int = 0
    refused: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float | None:
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _reply(reader: asyncio.StreamReader, within: float) -> int:
    async with asyncio.timeout(within):
        while True:
            line = await reader.readline()
            if not line:
                raise ConnectionError("server closed the connection")
            if line[3:4] != b"-":
                return int(line[:3])


class _Connection:
    def __init__(self, port: int, timeout: float) -> None:
        self.port = port
        self.timeout = timeout

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        await self._expect(None, 220)
        await self._expect(b"EHLO bench.test\r\n", 250)

    async def _expect(self, command: bytes | None, code: int) -> bool:
        if command is not None:
            self.writer.write(command)
        return await _reply(self.reader, self.timeout) == code

    async def mail(self, body: bytes, load: Load) -> None:
        ok = await self._expect(b"MAIL FROM:<ann@bench.test>\r\n", 250)
        ok = ok and await self._expect(b"RCPT TO:<room-bench@localhost>\r\n", 250)
        start = time.perf_counter()
        if ok and await self._expect(b"DATA\r\n", 354) and await self._expect(body, 250):
            load.latencies.append(time.perf_counter() - start)
            load.sent += 1
        else:
            load.refused += 1
            await self._expect(b"RSET\r\n", 250)

    async def close(self) -> None:
        try:
            await self._expect(b"QUIT\r\n", 221)
        finally:
            self.writer.close()
            await self.writer.wait_closed()


async def send_mails(
    port: int, mails: int, *, clients: int = 8, new_connection: bool, tag: str,
    within: float = 60.0,
) -> Load:  # fmt: skip
    load = Load()
    numbers = iter(range(mails))

    async def client() -> None:
        connection = _Connection(port, within)
        if not new_connection:
            await connection.open()
        for n in numbers:  # shared: the clients take the next number in turn
            body = _MAIL.format(n=n, tag=tag).encode() + b".\r\n"
            if new_connection:
                await connection.open()
            await connection.mail(body, load)
            if new_connection:
                await connection.close()
        if not new_connection:
            await connection.close()

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    load.seconds = time.perf_counter() - start
    return load

"""The load side of ``bench/irc.py``: one raw-socket IRC client in the channel with the bot.

It registers, joins the room, and then asks ``!ping N`` with a token ``N`` unique in the
run, so a late answer is never taken for a newer one. Every ``pong N`` from the bot is
timed when its line is parsed, on the same event loop that wrote the ping:

* ``round_trip``: one ping, then the time until its pong (the sequential figure: a
  user asking and waiting);
* ``burst``: ``n`` pings written at once, then the time until the last pong (replies/s
  = ``n`` / that time; the concurrent figure). Pongs may come in any order (Sopel
  answers each command in a thread of its own); a burst not fully answered within its
  timeout reports how many came back.

The client answers the server's PING, ignores everything else, and reads in chunks
(not line by line) so that parsing 2,000 pongs costs the load side as little as it can.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

__all__ = ["Burst", "LoadClient"]


@dataclass(frozen=True)
class Burst:
    sent: int
    answered: int
    seconds: float  # until the last pong, or until the timeout

    @property
    def rate(self) -> float:
        return self.answered / self.seconds if self.seconds > 0 else 0.0


class LoadClient:
    def __init__(self, nick: str, room: str) -> None:
        self.nick = nick
        self.room = room
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._waiting: dict[int, asyncio.Future[float]] = {}
        self._joined: dict[str, asyncio.Future[None]] = {}
        self._registered: asyncio.Future[None] | None = None
        self._in_room: asyncio.Future[None] | None = None
        self._token = 0
        self.stray = 0  # pongs for tokens nobody waits for (late, or unknown)

    async def connect(self, port: int, within: float = 15.0) -> None:
        loop = asyncio.get_running_loop()
        self._registered, self._in_room = loop.create_future(), loop.create_future()
        self._reader, self._writer = await asyncio.open_connection("127.0.0.1", port)
        self._task = asyncio.ensure_future(self._read())
        self._send(f"NICK {self.nick}", f"USER {self.nick} 0 * :bench load")
        await asyncio.wait_for(self._registered, within)
        self._send(f"JOIN {self.room}")
        await asyncio.wait_for(self._in_room, within)

    def joined(self, nick: str) -> asyncio.Future[None]:
        """Resolved when ``nick`` joins the room (the bot is ready to answer)."""
        key = nick.lower()
        if key not in self._joined:
            self._joined[key] = asyncio.get_running_loop().create_future()
        return self._joined[key]

    def _send(self, *lines: str) -> None:
        assert self._writer is not None
        self._writer.write("".join(line + "\r\n" for line in lines).encode())

    def _next(self) -> tuple[int, asyncio.Future[float]]:
        self._token += 1
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiting[self._token] = future
        return self._token, future

    async def round_trip(self, within: float) -> float:
        token, future = self._next()
        started = time.perf_counter()
        self._send(f"PRIVMSG {self.room} :!ping {token}")
        try:
            return await asyncio.wait_for(future, within) - started
        finally:
            self._waiting.pop(token, None)

    async def burst(self, n: int, within: float) -> Burst:
        pairs = [self._next() for _ in range(n)]
        payload = "".join(f"PRIVMSG {self.room} :!ping {token}\r\n" for token, _ in pairs)
        futures = [future for _, future in pairs]
        assert self._writer is not None
        started = time.perf_counter()
        self._writer.write(payload.encode())
        done, _ = await asyncio.wait(futures, timeout=within)
        for token, _ in pairs:
            self._waiting.pop(token, None)
        if len(done) == n:
            return Burst(n, n, max(f.result() for f in done) - started)
        return Burst(n, len(done), within)

    async def _read(self) -> None:
        assert self._reader is not None
        rest = b""
        while True:
            chunk = await self._reader.read(65536)
            if not chunk:
                return
            now = time.perf_counter()
            *lines, rest = (rest + chunk).split(b"\r\n")
            for line in lines:
                self._line(line, now)

    def _line(self, raw: bytes, now: float) -> None:
        parts = raw.decode(errors="replace").split(" ", 3)
        if parts[0] == "PING":
            self._send("PONG " + " ".join(parts[1:]))
            return
        if len(parts) < 3:
            return
        command = parts[1]
        if command == "PRIVMSG" and len(parts) == 4 and parts[3].startswith(":pong "):
            token = parts[3][6:]
            future = self._waiting.get(int(token)) if token.isdigit() else None
            if future is not None and not future.done():
                future.set_result(now)
            else:
                self.stray += 1
        elif command == "001" and self._registered and not self._registered.done():
            self._registered.set_result(None)
        elif command == "366" and self._in_room and not self._in_room.done():
            self._in_room.set_result(None)
        elif command == "JOIN":
            joined = self.joined(parts[0].lstrip(":").split("!", 1)[0])
            if not joined.done():
                joined.set_result(None)

    async def close(self) -> None:
        if self._writer is not None:
            self._send("QUIT :done")
            self._writer.close()
            with contextlib.suppress(OSError, TimeoutError):
                await asyncio.wait_for(self._writer.wait_closed(), 5)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await self._task

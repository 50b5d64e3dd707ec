"""An independent IRC client for the tests: a raw socket, our own eyes on the wire.

It registers, joins, sends raw lines and waits (bounded) for lines matching a predicate.
Every line it receives is kept with its arrival time, so tests can check what arrived,
in what order, and how fast. It does not use the interface's parser on purpose beyond
splitting, so a bug there cannot hide itself; it parses with ``parse_line`` only to
make assertions readable.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

from telephonist.interfaces.irc.lines import Line, parse_line

__all__ = ["Peer", "Received", "joined", "too_early"]


def joined(nick: str, room: str) -> Callable[[Line], bool]:
    """A predicate for ``Peer.expect``: ``nick`` joined ``room``."""
    return lambda ln: (
        ln.command == "JOIN"
        and ln.source is not None
        and ln.source.nick == nick
        and ln.param(0) == room
    )


def too_early(received: list[Received], since: float, burst: int, rate: float) -> list[int]:
    """Indexes of lines that arrived sooner than a token bucket (``burst``, ``rate``)
    started no earlier than ``since`` could have sent them. Only a lower bound on each
    arrival is checked, so a slow reader (lines read late, in clumps) never fails it;
    a sender that is not paced does."""
    return [
        k
        for k, item in enumerate(received)
        if k >= burst and item.at - since < (k - burst + 1) / rate * 0.95
    ]


@dataclass(frozen=True)
class Received:
    at: float
    raw: str
    line: Line


class Peer:
    def __init__(self, nick: str) -> None:
        self.nick = nick
        self.lines: list[Received] = []
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._cursor = 0
        self._new = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def connect(
        self,
        port: int,
        caps: tuple[str, ...] = (),
        within: float = 10,
        tls: ssl.SSLContext | None = None,
    ) -> Peer:
        self._reader, self._writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=tls, server_hostname="localhost" if tls else None
        )
        self._task = asyncio.ensure_future(self._read())
        if caps:
            self.send("CAP REQ :" + " ".join(caps))
        self.send(f"NICK {self.nick}")
        self.send(f"USER {self.nick} 0 * :test peer")
        if caps:
            await self.expect(lambda ln: ln.command == "CAP", within)
            self.send("CAP END")
        await self.expect(lambda ln: ln.command == "001", within)
        return self

    async def _read(self) -> None:
        assert self._reader is not None
        while True:
            data = await self._reader.readline()
            if not data:
                self._new.set()
                return
            raw = data.decode("utf-8", "replace").rstrip("\r\n")
            if raw.startswith("PING"):
                self.send("PONG" + raw[4:])
            self.lines.append(Received(time.monotonic(), raw, parse_line(raw)))
            self._new.set()

    def send(self, raw: str) -> None:
        assert self._writer is not None
        self._writer.write(raw.encode() + b"\r\n")

    async def join(self, channel: str, within: float = 10) -> None:
        self.send(f"JOIN {channel}")
        await self.expect(
            lambda ln: (
                ln.command == "JOIN" and ln.source is not None and ln.source.nick == self.nick
            ),
            within,
        )

    async def expect(self, match: Callable[[Line], bool], within: float = 10) -> Line:
        """The next unconsumed line matching ``match`` (earlier ones are skipped)."""
        deadline = time.monotonic() + within
        while True:
            while self._cursor < len(self.lines):
                item = self.lines[self._cursor]
                self._cursor += 1
                if match(item.line):
                    return item.line
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._task is None or self._task.done():
                tail = [r.raw for r in self.lines[-10:]]
                raise TimeoutError(f"{self.nick}: no matching line in {within}s; last: {tail}")
            self._new.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new.wait(), remaining)

    async def privmsgs(
        self, target: str, count: int, within: float = 10, sender: str | None = None
    ) -> list[Received]:
        """The next ``count`` PRIVMSGs to ``target`` (optionally from ``sender``)."""
        found: list[Received] = []
        deadline = time.monotonic() + within
        while len(found) < count:
            line = await self.expect(
                lambda ln: (
                    ln.command == "PRIVMSG"
                    and ln.param(0) == target
                    and (sender is None or (ln.source is not None and ln.source.nick == sender))
                ),
                max(0.0, deadline - time.monotonic()),
            )
            found.append(next(r for r in reversed(self.lines) if r.line is line))
        return found

    async def close(self) -> None:
        if self._writer is not None:
            try:
                self.send("QUIT :bye")
                self._writer.close()
            except (ConnectionError, RuntimeError):
                pass
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

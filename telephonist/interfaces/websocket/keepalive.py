"""Keepalive pings for every WebSocket of a hub: one sweep per tick, not timers per socket.

Autobahn's own auto-ping keeps two timers per connection (the next ping, the pong
deadline), builds a timestamped payload and logs each ping at debug level: with 5,000
idle sockets that was most of their CPU cost. Here each socket only records when it last
heard from its peer (``Pinged.last_seen``); one periodic sweep over the hub's sockets
decides, for all of them at once, who is due a ping and whose ping went unanswered.

Any bytes from the peer prove it alive, not only the pong: a busy connection is never
pinged, and a pong (or a frame) clears the outstanding ping. ``Keepalive.due`` is pure
(no clock, no I/O) so its rules are tested on their own; ``KeepaliveTimer`` runs it on
the loop.

Precision: a ping leaves between ``interval`` and ``interval + tick`` after the last
traffic, and a silent peer is dropped between ``timeout`` and ``timeout + tick`` after
the ping; ``tick`` is an eighth of the shorter of the two (at least 0.25 s).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol, TypeVar

__all__ = ["PING_FRAME", "Keepalive", "KeepaliveTimer", "Pinged"]

#: A server-to-client ping with no payload: FIN + opcode 0x9, unmasked, length 0. Servers
#: never mask, so the frame is the same for every socket and built once.
PING_FRAME = b"\x89\x00"


class Pinged(Protocol):
    """What the sweep needs of a socket: ``time.monotonic()`` times (the loop's clock),
    ``ping_sent`` 0.0 when no ping is outstanding. The socket sets ``last_seen`` and
    clears ``ping_sent`` whenever its peer sends anything."""

    last_seen: float
    ping_sent: float


S = TypeVar("S", bound=Pinged)


@dataclass(frozen=True, slots=True)
class Keepalive:
    """The rules: ping after ``interval`` seconds of silence, drop ``timeout`` seconds
    after an unanswered ping."""

    interval: float
    timeout: float

    @property
    def tick(self) -> float:
        return max(0.25, min(self.interval, self.timeout) / 8)

    def due(self, sockets: Iterable[S], now: float) -> tuple[list[S], list[S]]:
        """Split ``sockets`` into (to ping now, to drop now); marks the pinged ones sent."""
        ping: list[S] = []
        drop: list[S] = []
        quiet_since = now - self.interval
        deadline = now - self.timeout
        for sock in sockets:
            sent = sock.ping_sent
            if sent:
                if sent <= deadline:
                    drop.append(sock)
            elif sock.last_seen <= quiet_since:
                sock.ping_sent = now
                ping.append(sock)
        return ping, drop


class KeepaliveTimer:
    """Runs ``Keepalive.due`` every tick on the running loop over ``sockets()``."""

    def __init__(
        self,
        rules: Keepalive,
        sockets: Callable[[], Iterable[Pinged]],
        ping: Callable[[Pinged], None],
        drop: Callable[[Pinged], None],
    ) -> None:
        self.rules = rules
        self._sockets = sockets
        self._ping = ping
        self._drop = drop
        self._handle: asyncio.TimerHandle | None = None
        #: Pings sent and sockets dropped, for ``status``.
        self.pings = 0
        self.timeouts = 0

    def start(self) -> None:
        if self._handle is None:
            loop = asyncio.get_running_loop()
            self._handle = loop.call_later(self.rules.tick, self._sweep)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        self._handle = loop.call_later(self.rules.tick, self._sweep)
        ping, drop = self.rules.due(self._sockets(), loop.time())
        self.pings += len(ping)
        self.timeouts += len(drop)
        for sock in ping:
            self._ping(sock)
        for sock in drop:
            self._drop(sock)

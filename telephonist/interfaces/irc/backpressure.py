"""Inbound backpressure on one network: when to stop reading, when to retry, what to log. Pure.

Theory of operation
-------------------
Lines can arrive faster than their events can be published in two ways: the pump is
behind (events wait in the network's inbound queue), or the layer refuses the event at
the head of the queue (``ChannelFull``: usually the inbox of the worker bound to that
room, when it takes events more slowly than the network sends them). Both are answered
the IRC way: stop reading the socket, so the kernel and the server hold what follows,
and read again as soon as the way is clear. Nothing waits for a fixed time.

* Reading stops when ``high_water`` events wait, or at the first refusal. It starts again
  once a publish has gone through after the last refusal and at most ``low_water``
  events wait (the gap keeps a busy network from flapping between the two).
* A refused event is retried after ``first_delay``, then twice that, and so on up to
  ``max_delay``: an inbox that drains within a millisecond costs about a millisecond,
  and a long outage costs few retries. An event refused for ``give_up`` seconds is
  dropped (the caller counts and logs it) and the next one is tried.
* A *stall* runs from the first refusal until reading starts again. Its start is worth a
  warning (which names the full channel: the refusal does) and its end an info line with
  how long it lasted, but a network that stalls again and again must not flood the log:
  at most one warning per ``log_every`` seconds, and the stalls not logged are counted
  into the next warning.

:class:`Backpressure` decides; the interface does the I/O (pausing the transport,
sleeping, logging). The clock is injected, so the tests run without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Backpressure", "Refusal", "Resumed"]


@dataclass(frozen=True, slots=True)
class Refusal:
    """What to do after the layer refused the event at the head of the queue."""

    delay: float | None  # seconds before the retry; None: give up on this event
    pause: bool  # stop reading the socket now
    new_stall: bool  # the first refusal since reading last (re)started
    warn: bool  # log the start of a stall now
    unlogged: int  # stalls since the last warning that were not logged


@dataclass(frozen=True, slots=True)
class Resumed:
    """Reading starts again after a pause."""

    stalled_for: float | None  # seconds since the stall began; None: only a backlog
    warned: bool  # the stall's start was logged, so its end should be too


class Backpressure:
    def __init__(
        self,
        *,
        max_delay: float,
        give_up: float,
        high_water: int = 256,
        low_water: int = 32,
        first_delay: float = 0.001,
        log_every: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 <= low_water < high_water:
            raise ValueError("need 0 <= low_water < high_water")
        if not 0 < first_delay <= max_delay or give_up <= 0:
            raise ValueError("need 0 < first_delay <= max_delay and give_up > 0")
        self.max_delay = max_delay
        self.give_up = give_up
        self.high_water = high_water
        self.low_water = low_water
        self.first_delay = first_delay
        self.log_every = log_every
        self._clock = clock
        self.paused = False
        self._refused_since: float | None = None  # the head event's first refusal
        self._tries = 0
        self._stall_since: float | None = None
        self._stall_warned = False
        self._last_warning: float | None = None
        self._unlogged = 0

    def queued(self, depth: int) -> bool:
        """An event joined the queue, which is now ``depth`` long: ``True`` if reading
        must stop (again: pausing a paused transport is harmless, and after a reconnect
        the new transport is not paused)."""
        if depth >= self.high_water:
            self.paused = True
            return True
        return False

    def refused(self) -> Refusal:
        """The layer refused the event at the head of the queue."""
        now = self._clock()
        pause = not self.paused
        self.paused = True
        warn = False
        unlogged = 0
        new_stall = self._stall_since is None
        if new_stall:
            self._stall_since = now
            if self._last_warning is None or now - self._last_warning >= self.log_every:
                warn, unlogged, self._unlogged = True, self._unlogged, 0
                self._last_warning = now
            else:
                self._unlogged += 1
            self._stall_warned = warn
        if self._refused_since is None:
            self._refused_since, self._tries = now, 0
        if now - self._refused_since >= self.give_up:
            self._refused_since = None
            return Refusal(None, pause, new_stall, warn, unlogged)
        delay = min(self.first_delay * 2 ** min(self._tries, 60), self.max_delay)
        self._tries += 1
        return Refusal(delay, pause, new_stall, warn, unlogged)

    def settled(self, depth: int) -> Resumed | None:
        """The head event is done with (published, or dropped) and ``depth`` events
        still wait: a ``Resumed`` if reading should start again now."""
        self._refused_since = None
        if not self.paused or depth > self.low_water:
            return None
        self.paused = False
        since, self._stall_since = self._stall_since, None
        warned, self._stall_warned = self._stall_warned, False
        return Resumed(None if since is None else self._clock() - since, warned)

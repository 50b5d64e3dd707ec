"""Keepalive and lag: is the server still answering, and how slowly? Pure: clock injected.

Theory of operation
-------------------
TCP can stay "up" for hours after the other end is gone (a frozen server, a NAT that
dropped the mapping), and a bot that is not told keeps waiting for messages that never
come. So every ``interval`` the connection asks :meth:`Keepalive.tick` what to do: send
a ``PING`` with a fresh token when none is unanswered; do nothing while one is young;
declare the connection dead once a PING has gone unanswered for ``timeout``. The PONG
carrying our token (:meth:`pong`) measures ``lag``, the round trip through the server,
shown in status.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

from .lines import format_line

__all__ = ["Keepalive"]


class Keepalive:
    def __init__(self, timeout: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.timeout = timeout
        self.lag: float | None = None
        self._clock = clock
        self._sent: float | None = None
        self._token = ""
        self._count = 0

    def tick(self) -> tuple[Literal["ping", "wait", "dead"], str]:
        """``("ping", line)`` to send, ``("wait", "")``, or ``("dead", reason)``."""
        now = self._clock()
        if self._sent is not None:
            if now - self._sent >= self.timeout:
                return "dead", f"no PONG for {self.timeout:g}s (lag)"
            return "wait", ""
        self._count += 1
        self._token = f"tel{self._count}"
        self._sent = now
        return "ping", format_line("PING", self._token)

    def pong(self, token: str) -> bool:
        """Whether ``token`` answers our PING (then ``lag`` is updated)."""
        if self._sent is None or token != self._token:
            return False
        self.lag = self._clock() - self._sent
        self._sent = None
        return True

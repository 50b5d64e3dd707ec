"""Hook points around every consumer call: ``consumer_started``, ``consumer_finished``.

The Dispatcher sends them in the thread that runs the consumer (the worker thread for a
sync consumer), because the Django integration connects database-connection hygiene
here and Django's connections are per thread. Receivers get keyword arguments only
(``signal``, ``sender``, ``channel``, ``message``, ``route``, ``is_async``), as Django
receivers do. ``is_async`` says the consumer runs on the event loop, where Django
forbids synchronous database calls: per-thread hygiene applies when it is False.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["Signal", "consumer_finished", "consumer_started"]

log = logging.getLogger("telephonist.signals")

R = TypeVar("R", bound=Callable[..., object])


class Signal:
    """A list of receivers. A receiver that raises is logged and the others still run:
    a hook must never take a consumer (or the worker) down with it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._receivers: tuple[Callable[..., object], ...] = ()
        self._lock = threading.Lock()

    def connect(self, receiver: R) -> R:
        """Add ``receiver``; returns it, so this works as a decorator."""
        with self._lock:
            if receiver not in self._receivers:
                self._receivers = (*self._receivers, receiver)
        return receiver

    def disconnect(self, receiver: Callable[..., object]) -> bool:
        with self._lock:
            before = self._receivers
            self._receivers = tuple(r for r in before if r != receiver)
            return len(before) != len(self._receivers)

    def send(self, sender: object, **kwargs: Any) -> None:
        for receiver in self._receivers:  # a tuple snapshot: safe against (dis)connects
            try:
                receiver(signal=self, sender=sender, **kwargs)
            except Exception:
                log.exception("receiver %r of signal %s raised", receiver, self.name)

    def __repr__(self) -> str:
        return f"<Signal {self.name} ({len(self._receivers)} receivers)>"


consumer_started = Signal("consumer_started")
consumer_finished = Signal("consumer_finished")

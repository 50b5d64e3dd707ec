"""SIGTERM/SIGINT handling shared by every command.

The first signal asks for a graceful stop (bounded drain); a second one while draining
asks to skip what is left of the drain, so an operator pressing Ctrl-C twice is never
kept waiting. Handlers go through ``loop.add_signal_handler``: the stop request is an
event on the loop, never work done inside a signal handler.

A process whose loop does not run in the main thread (Django's autoreloader runs the
server in a thread of its own, and signals only reach the main thread) asks with
:func:`request_stop` instead, from any thread: the request is handed to the loop
thread-safely, or kept until the runtime starts if it comes before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading

__all__ = ["StopSignals", "request_stop"]

log = logging.getLogger("telephonist.signals")

_SIGNALS = (signal.SIGTERM, signal.SIGINT)

# Re-entrant: request_stop runs in signal handlers, and a second signal's handler can
# run in the main thread while the first one's holds the lock.
_lock = threading.RLock()
_running: list[tuple[asyncio.AbstractEventLoop, StopSignals]] = []
_early: list[tuple[str, bool]] = []  # requests made before any runtime started


def request_stop(reason: str, *, force: bool = False) -> None:
    """Ask the running runtime to stop gracefully (``force``: to skip the rest of its
    drain), from any thread. Repeating a request without ``force`` changes nothing, so
    two sources of one stop (a signal and its relay) make one graceful stop."""
    with _lock:
        if not _running:
            _early.append((reason, force))
            return
        loop, signals = _running[-1]
    with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: it has stopped
        loop.call_soon_threadsafe(signals.ask, reason, force)


class StopSignals:
    """``async with StopSignals() as stop: await stop.requested.wait()``."""

    def __init__(self) -> None:
        self.requested = asyncio.Event()
        self.forced = asyncio.Event()
        self._installed: list[signal.Signals] = []

    def _on_signal(self, sig: signal.Signals) -> None:
        self.ask(sig.name, force=self.requested.is_set())

    def ask(self, reason: str, force: bool = False) -> None:
        """A stop request (on the loop): the first starts the graceful stop, a forced
        one skips what is left of the drain."""
        if force:
            if not self.forced.is_set():
                log.warning("second %s: skipping the rest of the drain", reason)
            self.requested.set()
            self.forced.set()
        elif not self.requested.is_set():
            log.info("%s received: stopping gracefully", reason)
            self.requested.set()

    async def __aenter__(self) -> StopSignals:
        loop = asyncio.get_running_loop()
        for sig in _SIGNALS:
            try:
                loop.add_signal_handler(sig, self._on_signal, sig)
            except (NotImplementedError, RuntimeError):  # not the main thread, or Windows
                continue
            self._installed.append(sig)
        with _lock:
            _running.append((loop, self))
            early, _early[:] = list(_early), []
        for reason, force in early:
            self.ask(reason, force)
        return self

    async def __aexit__(self, *exc: object) -> None:
        loop = asyncio.get_running_loop()
        with _lock:
            _running[:] = [entry for entry in _running if entry[1] is not self]
        for sig in self._installed:
            loop.remove_signal_handler(sig)
        self._installed.clear()

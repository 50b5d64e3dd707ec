"""SIGTERM/SIGINT handling shared by every command.

The first signal asks for a graceful stop (bounded drain); a second one while draining
asks to skip what is left of the drain, so an operator pressing Ctrl-C twice is never
kept waiting. Handlers go through ``loop.add_signal_handler``: the stop request is an
event on the loop, never work done inside a signal handler.
"""

from __future__ import annotations

import asyncio
import logging
import signal

__all__ = ["StopSignals"]

log = logging.getLogger("telephonist.signals")

_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopSignals:
    """``async with StopSignals() as stop: await stop.requested.wait()``."""

    def __init__(self) -> None:
        self.requested = asyncio.Event()
        self.forced = asyncio.Event()
        self._installed: list[signal.Signals] = []

    def _on_signal(self, sig: signal.Signals) -> None:
        if self.requested.is_set():
            log.warning("second %s: skipping the rest of the drain", sig.name)
            self.forced.set()
        else:
            log.info("%s received: stopping gracefully", sig.name)
            self.requested.set()

    async def __aenter__(self) -> StopSignals:
        loop = asyncio.get_running_loop()
        for sig in _SIGNALS:
            try:
                loop.add_signal_handler(sig, self._on_signal, sig)
            except (NotImplementedError, RuntimeError):  # not the main thread, or Windows
                continue
            self._installed.append(sig)
        return self

    async def __aexit__(self, *exc: object) -> None:
        loop = asyncio.get_running_loop()
        for sig in self._installed:
            loop.remove_signal_handler(sig)
        self._installed.clear()

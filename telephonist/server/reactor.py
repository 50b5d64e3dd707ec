"""Twisted on the shared asyncio loop.

Interfaces with ``uses_twisted = True`` (HTTP and WebSocket on Twisted/Autobahn) run on
the same loop as everything else through ``twisted.internet.asyncioreactor``. The reactor
is a process-wide singleton chosen by the first import of ``twisted.internet.reactor``,
so it must be installed on our loop before anything imports it. Plugin modules must not
import the reactor at import time (import it inside ``start()``); discovery records which
plugin did (``InterfacePlugin.imported_reactor``) so the error below can name it.

``reactor.run()`` would run the loop itself; we run the loop, so the reactor only gets
``startRunning()`` (startup triggers fire, ``reactor.running`` becomes true) and, after
the loop's work is done, its shutdown triggers (which stop its thread pool).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Iterable
from typing import Any

__all__ = ["ReactorError", "install_asyncio_reactor", "shutdown_reactor", "start_reactor"]

_REACTOR = "twisted.internet.reactor"

log = logging.getLogger("telephonist.server")


class ReactorError(RuntimeError):
    """Twisted's reactor cannot be put on the shared loop."""


def _installed() -> Any:
    return sys.modules.get(_REACTOR)


def install_asyncio_reactor(loop: asyncio.AbstractEventLoop, culprits: Iterable[str] = ()) -> Any:
    """Install the asyncio reactor on ``loop``, or accept one already installed there.

    ``culprits`` names plugins whose import installed a reactor, for the error message.
    """
    try:
        from twisted.internet import asyncioreactor
    except ImportError as exc:
        raise ReactorError(
            "an enabled interface uses Twisted, which is not installed "
            "(pip install 'telephonist[http]')"
        ) from exc
    current = _installed()
    if current is None:
        asyncioreactor.install(loop)  # type: ignore[no-untyped-call]
        return _installed()
    if isinstance(current, asyncioreactor.AsyncioSelectorReactor):
        if current._asyncioEventloop is loop:
            return current
        if _idle_elsewhere(current):
            # Daphne's app ('daphne' in a Channels project's INSTALLED_APPS) installs
            # the reactor on a loop of its own at import, which nothing runs here: the
            # reactor never started, so it can move to ours. Daphne does the same to a
            # reactor it finds not to its liking.
            log.info(
                "Twisted's reactor was installed on an idle loop (by %s): reinstalled on "
                "Telephonist's",
                "the daphne app" if "daphne.server" in sys.modules else "an import",
            )
            _uninstall()
            asyncioreactor.install(loop)  # type: ignore[no-untyped-call]
            return _installed()
        raise ReactorError(
            "Twisted's asyncio reactor is already installed on another event loop; "
            "a process can serve Twisted interfaces on one loop only"
        )
    blame = ", ".join(culprits)
    hint = f" (imported by plugin {blame})" if blame else ""
    raise ReactorError(
        f"Twisted's reactor was installed as {type(current).__name__}{hint} before "
        "Telephonist could install the asyncio reactor; import twisted.internet.reactor "
        "inside Interface.start(), not at module level"
    )


def _idle_elsewhere(reactor: Any) -> bool:
    """Never started, on a loop that is not running: nothing depends on it yet."""
    other = reactor._asyncioEventloop
    return not (reactor.running or getattr(reactor, "_started", False) or other.is_running())


def _uninstall() -> None:
    import twisted.internet

    del sys.modules[_REACTOR]
    if hasattr(twisted.internet, "reactor"):
        del twisted.internet.reactor


def start_reactor(reactor: Any) -> None:
    """Mark the reactor running on the already running loop (no ``reactor.run()``)."""
    if not reactor.running:
        reactor.startRunning(installSignalHandlers=False)


def shutdown_reactor(reactor: Any) -> None:
    """Fire Twisted's shutdown triggers (its thread pool stops) once our loop is done.

    The reactor's own "during shutdown" trigger stops the asyncio loop; calling this when
    the loop no longer runs makes that a no-op."""
    if getattr(reactor, "_started", False):
        reactor.fireSystemEvent("shutdown")

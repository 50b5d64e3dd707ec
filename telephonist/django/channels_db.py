"""Channels' per-message database clean-up, without the thread hop when it has nothing to do.

Theory of operation
-------------------
Channels 4.2+ calls ``channels.db.aclose_old_connections()`` before every message
handler of a consumer (``AsyncConsumer.dispatch``, the HTTP consumer) and after a
WebSocket's ``disconnect()``: ``sync_to_async(close_old_connections)()``, a hop into
asgiref's thread-sensitive thread that closes that thread's database connections which
are unusable or older than ``CONN_MAX_AGE``. A broadcast to a room of 1,000 hosted
consumers is 1,000 such hops, one after the other through asgiref's single thread:
three quarters of the worker's CPU and latency (``bench/broadcast.py``), and they
almost never close anything.

``close_old_connections()`` only acts on an open connection of the thread it runs in
(Django's connections are per thread), and that thread is never the event loop's
(asgiref runs it in an executor thread). Django announces every connection it opens
(``connection_created``, sent by the wrapper that opened it); :func:`track_connections`
keeps those wrappers (weakly). When none of them that belongs to another thread than
the loop's has an open connection, the hop would do nothing, and
:func:`aclose_old_connections` returns at once; otherwise it makes Channels' own hop,
so a connection a consumer left open (``CONN_MAX_AGE``, plain ``sync_to_async``) is
closed exactly when Channels would close it. A connection being opened by another
thread while we look is in a call that closes its own on the way out
(``database_sync_to_async``), or in a thread the hop does not visit.

Only a worker hosting ``ASGI_APPLICATION`` installs it (:func:`install`, at start-up),
in Channels' modules that call it; tests and other processes keep Channels' function.
"""

from __future__ import annotations

import threading
import weakref
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["aclose_old_connections", "counters", "install", "open_connections", "track_connections"]

#: "skipped": hops not made (no connection open); "made": Channels' hop made.
counters: Counter[str] = Counter()

_opened: weakref.WeakSet[Any] = weakref.WeakSet()
_channels_hop: Callable[[], Awaitable[None]] | None = None

#: Channels' modules that call ``aclose_old_connections`` by their own global name.
_CALLERS = ("channels.consumer", "channels.generic.websocket", "channels.generic.http")


def _created(sender: object, connection: object, **kwargs: object) -> None:
    _opened.add(connection)


def track_connections() -> None:
    """Remember every database wrapper that opens a connection (idempotent). Called
    when the app is ready, before any connection is opened."""
    from django.db.backends.signals import connection_created

    connection_created.connect(_created, dispatch_uid="telephonist.channels_db")


def open_connections(*, besides_thread: int | None = None) -> int:
    """How many database connections are open, in any thread but ``besides_thread``."""
    return sum(
        1
        for wrapper in list(_opened)
        if getattr(wrapper, "connection", None) is not None
        and getattr(wrapper, "_thread_ident", None) != besides_thread
    )


async def aclose_old_connections() -> None:
    """Channels' ``aclose_old_connections``, skipped when no connection it could close
    is open."""
    if not open_connections(besides_thread=threading.get_ident()):
        counters["skipped"] += 1
        return
    counters["made"] += 1
    assert _channels_hop is not None
    await _channels_hop()


def install() -> bool:
    """Put :func:`aclose_old_connections` into Channels' calling modules (idempotent);
    returns whether Channels is installed."""
    global _channels_hop
    import importlib

    try:
        import channels.db
    except ImportError:
        return False
    track_connections()
    if _channels_hop is None:
        _channels_hop = channels.db.aclose_old_connections
    for name in _CALLERS:
        module = importlib.import_module(name)
        if getattr(module, "aclose_old_connections", None) is _channels_hop:
            module.aclose_old_connections = aclose_old_connections  # type: ignore[attr-defined]
    return True

"""Per-connection state kept in the worker, for as long as the connection lives.

Under connection affinity every event of a connection is consumed, in order, by the
one worker that took its first event (docs/runtime.md). So what a consumer needs to
remember about a connection between its events (its channel session, the key of its
HTTP session, the last ``order`` seen) can stay in that worker's memory instead of
being read from the database for every message, which is what made Channels 1
sessions cost a query per message.

Entries are keyed by the connection's reply channel, dropped when the worker says the
connection ended (:data:`telephonist.worker.connection_released`), and bounded: the
store is a least-recently-used map of at most ``limit`` connections. Eviction is always
safe because everything here is a cache of something saved elsewhere (sessions are
written through when modified); an evicted connection just reloads on its next event.
Only process-specific reply channels (``...!...``) are kept: those are the ones a
worker holds affinity for.

Eviction forgets; the connection's *end* is more: :meth:`ConnectionState.end` also
calls the ``on_end`` callbacks with the entry, so what outlives the cache because of
that connection (its channel session's row) is removed with it.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from ..worker import connection_released

__all__ = ["ConnectionState", "EndCallback", "connection_state"]

log = logging.getLogger("telephonist.django.state")

#: ``callback(connection, entry)``: the connection ended; ``entry`` is its state dict.
EndCallback = Callable[[str, dict[str, Any]], None]


class ConnectionState:
    """A bounded, thread-safe map: reply channel -> that connection's dict of state."""

    def __init__(self, limit: int = 10_000) -> None:
        self.limit = limit
        self._entries: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._on_end: list[EndCallback] = []

    @staticmethod
    def holds(connection: str | None) -> bool:
        """Whether ``connection`` is one a worker keeps affinity (and so state) for."""
        return bool(connection) and "!" in str(connection)

    def get(self, connection: str) -> dict[str, Any]:
        """The state dict of ``connection``, created empty on first use."""
        with self._lock:
            entry = self._entries.get(connection)
            if entry is None:
                entry = self._entries[connection] = {}
                while len(self._entries) > self.limit:
                    self._entries.popitem(last=False)
            else:
                self._entries.move_to_end(connection)
            return entry

    def peek(self, connection: str) -> dict[str, Any] | None:
        with self._lock:
            return self._entries.get(connection)

    def forget(self, connection: str) -> None:
        """Drop the cached state (it can be read back: nothing else happens)."""
        with self._lock:
            self._entries.pop(connection, None)

    def on_end(self, callback: EndCallback) -> None:
        """Call ``callback(connection, entry)`` when a connection with state ends."""
        if callback not in self._on_end:
            self._on_end.append(callback)

    def end(self, connection: str) -> None:
        """The connection ended: drop its state and run the ``on_end`` callbacks."""
        with self._lock:
            entry = self._entries.pop(connection, None)
        if entry is None:
            return
        for callback in list(self._on_end):
            try:
                callback(connection, entry)
            except Exception:  # one callback's bug must not keep the others from running
                log.exception("connection end callback %r failed", callback)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, connection: object) -> bool:
        return connection in self._entries


#: The process's store (one worker per process holds a connection).
connection_state = ConnectionState()


def _released(*, connection: str, **kwargs: Any) -> None:
    connection_state.end(connection)


connection_released.connect(_released)

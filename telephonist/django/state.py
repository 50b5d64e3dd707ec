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
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from ..worker import connection_released

__all__ = ["ConnectionState", "connection_state"]


class ConnectionState:
    """A bounded, thread-safe map: reply channel -> that connection's dict of state."""

    def __init__(self, limit: int = 10_000) -> None:
        self.limit = limit
        self._entries: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

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
        with self._lock:
            self._entries.pop(connection, None)

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
    connection_state.forget(connection)


connection_released.connect(_released)

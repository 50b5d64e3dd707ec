"""Connection affinity as sans-IO state machines: every event of one connection is
consumed, in order, by the one worker that took its first event.

* :mod:`.control`: the wire protocol between interface servers and workers;
* :mod:`.server`: the interface server's connection table (:class:`ServerTable`);
* :mod:`.worker`: the worker's connection table (:class:`WorkerTable`).

No I/O, no asyncio and no clock here (methods take ``now``): the tables take events and
return what to do. ``telephonist.server.affinity`` and ``telephonist.worker.connections``
drive them.
"""

from .server import ServerState, ServerTable
from .worker import WorkerState, WorkerTable

__all__ = ["ServerState", "ServerTable", "WorkerState", "WorkerTable"]

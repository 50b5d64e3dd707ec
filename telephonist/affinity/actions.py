"""What the connection tables ask their drivers to do (:mod:`.server`, :mod:`.worker`).

Actions are values: a table returns them and forgets them; the driver performs them in
the order given. The per-event fast paths return no action at all (see the tables).
"""

from __future__ import annotations

from collections import deque
from typing import NamedTuple

from ..core.codec import Content

__all__ = [
    "Abort",
    "Ack",
    "Bind",
    "Discarded",
    "Flush",
    "Forget",
    "Gone",
    "Heartbeat",
    "Release",
    "Released",
    "Run",
    "ServerAction",
    "ServerLost",
    "Unbind",
    "WorkerAction",
]

# -- interface server -----------------------------------------------------------------


class Abort(NamedTuple):
    """Hand the connection's handler ABORT with ``reason``."""

    connection: str
    reason: str


class Unbind(NamedTuple):
    """A conversation lost its worker: it binds another at its next event (log it)."""

    connection: str
    reason: str


class Forget(NamedTuple):
    """A connection the interface had closed lost its buffered events (log it)."""

    connection: str
    reason: str


class Flush(NamedTuple):
    """Send the connection's buffer: :meth:`.server.ServerTable.next_pending` until ``None``,
    then :meth:`.server.ServerTable.flushed`."""

    connection: str


class Release(NamedTuple):
    """Send ``telephonist.release`` for ``connection`` to ``worker``'s inbox; report the
    outcome with ``release_sent`` or ``release_refused``."""

    worker: str
    connection: str


class Ack(NamedTuple):
    """Answer a heartbeat; if the inbox refuses it, ``ack_refused``."""

    worker: str
    message: Content
    released: list[str]


ServerAction = Abort | Forget | Flush | Release | Ack | Unbind


# -- worker ---------------------------------------------------------------------------


class Bind(NamedTuple):
    """Send ``telephonist.bind`` for ``connection`` to its server."""

    connection: str


class Run(NamedTuple):
    """Start the connection's runner: it pops events from the left of ``queue`` until
    it is empty, then calls :meth:`.worker.WorkerTable.done`."""

    connection: str
    queue: deque[tuple[str, Content]]


class Heartbeat(NamedTuple):
    server: str


class Gone(NamedTuple):
    """Tell ``server`` this worker stops."""

    server: str


class ServerLost(NamedTuple):
    server: str


class Released(NamedTuple):
    """The connection's state here is gone: tell ``connection_released`` receivers."""

    connection: str
    reason: str


class Discarded(NamedTuple):
    """``events`` queued events of ``connection`` were dropped (free their slots)."""

    connection: str
    events: int


class Interrupt(NamedTuple):
    """An overtaking event (``http.disconnect``) was queued behind the event the
    connection's runner is at work on: interrupt that event's consumer if it opted in
    (``telephonist.consumers.interrupt``). The overtaking event itself stays queued and
    is delivered in order, once."""

    connection: str


WorkerAction = Bind | Run | Heartbeat | Gone | ServerLost | Released | Discarded | Interrupt

"""The wire protocol between interface servers and workers: channel names and the
control messages of connection affinity (docs/runtime.md, "Connection affinity").

Theory of operation
-------------------
Every interface server and every worker owns a process-specific prefix (``srv.<id>!``,
``worker.<id>!``). A server receives control messages on ``srv.<id>!control``; a worker
receives everything addressed to it on ONE channel, ``worker.<id>!inbox``. One inbox
rather than one channel per logical channel is deliberate: the layer keeps FIFO per
channel, so a connection's events, and the ``release`` sent after its last event, reach
the worker in the order the server sent them, with no reordering buffer and no gap timer
that could stall a connection the way Channels 1's ``enforce_ordering`` did.

server -> worker (in an event of a single-event connection, on its shared channel):
    ``telephonist.detached`` key, ``True``: bind nothing, heartbeat nothing for it (the
                            interface bounds the wait itself); stripped before dispatch
server -> worker (on the inbox):
    ``telephonist.event``   {channel, message}: one event of a connection bound to it
    ``telephonist.release`` {connection}: the connection ended; drop its state
    ``telephonist.ack``     {host, release}: answer to a heartbeat ("I am alive"), with
                            releases that could not be sent earlier (``host``: the
                            server's prefix; the wire keeps the key it always had)
worker -> server (on the server's control channel):
    ``telephonist.bind``      {connection, worker, interval}: I took the first event
    ``telephonist.heartbeat`` {worker, interval}: I still serve your connections
    ``telephonist.gone``      {worker}: I am stopping; abort what I served
anyone -> process (status, on its control channel or inbox):
    ``telephonist.status.request`` {reply_channel}: answered with ``telephonist.status``
"""

from __future__ import annotations

from typing import Any

from ..core.codec import Content
from ..core.names import non_local_name

__all__ = [
    "ACK",
    "BIND",
    "DETACHED",
    "EVENT",
    "GONE",
    "HEARTBEAT",
    "RELEASE",
    "STATUS",
    "STATUS_GROUP",
    "STATUS_REQUEST",
    "ack",
    "bind",
    "control_channel_of",
    "event",
    "field",
    "gone",
    "heartbeat",
    "inbox_of",
    "release",
    "status_request",
]

EVENT = "telephonist.event"
RELEASE = "telephonist.release"
ACK = "telephonist.ack"
BIND = "telephonist.bind"
HEARTBEAT = "telephonist.heartbeat"
GONE = "telephonist.gone"
STATUS_REQUEST = "telephonist.status.request"
STATUS = "telephonist.status"

#: Key the server adds to every event of a single-event connection (``send_event(...,
#: last=True)`` as its first event): the worker that takes it must not bind it.
DETACHED = "telephonist.detached"

#: Every server's control channel and every worker's inbox is a member, so one
#: ``group_send`` reaches every process on the layer (``telephonist status``).
STATUS_GROUP = "telephonist.status"

_CONTROL = "control"
_INBOX = "inbox"


def control_channel_of(reply_channel: str) -> str:
    """The control channel of the interface server that owns ``reply_channel``."""
    return non_local_name(reply_channel) + _CONTROL


def inbox_of(worker_prefix: str) -> str:
    return worker_prefix + _INBOX


def event(channel: str, message: Content) -> Content:
    return {"type": EVENT, "channel": channel, "message": message}


def release(connection: str) -> Content:
    return {"type": RELEASE, "connection": connection}


def ack(server: str, released: list[str]) -> Content:
    return {"type": ACK, "host": server, "release": released}


def bind(connection: str, worker: str, interval: float) -> Content:
    return {"type": BIND, "connection": connection, "worker": worker, "interval": interval}


def heartbeat(worker: str, interval: float) -> Content:
    return {"type": HEARTBEAT, "worker": worker, "interval": interval}


def gone(worker: str) -> Content:
    return {"type": GONE, "worker": worker}


def status_request(reply_channel: str) -> Content:
    return {"type": STATUS_REQUEST, "reply_channel": reply_channel}


def field(message: Content, key: str, kind: type[Any] | tuple[type[Any], ...]) -> Any:
    """``message[key]`` if it has type ``kind``, else ``None``: control messages come
    over the network and a malformed one must be ignored, not crash a receive loop."""
    value = message.get(key)
    return value if isinstance(value, kind) else None

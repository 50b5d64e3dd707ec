"""Writes that leave at once: the socket gets the bytes now, Twisted only the rest.

Twisted's ``transport.write`` only buffers and registers the socket for writing: the
bytes leave on the next loop turn and the socket is unregistered after, two
``epoll_ctl`` calls and two callbacks for every response or frame. When nothing waits
in Twisted's buffer we send straight away, as asyncio's own transports do; what the
socket does not take goes to Twisted, which then keeps the order, the backpressure and
the error handling as before. The HTTP connection and the WebSocket protocol share it.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import tcp

__all__ = ["can_send_now", "send_now", "write"]


def can_send_now(transport: Any) -> bool:
    """Plain TCP and Unix sockets can take a write straight away; TLS cannot (its
    bytes pass through the TLS layer's own buffer first)."""
    return isinstance(transport, tcp.Connection) and hasattr(transport, "_tempDataBuffer")


def send_now(transport: Any, data: bytes) -> bytes:
    """Send what the socket takes at once; return the rest, for Twisted. Only for a
    transport ``can_send_now`` accepted."""
    idle = not (transport.dataBuffer or transport._tempDataBuffer or transport._writeDisconnected)
    if not (idle and transport.connected):
        return data
    sent = transport.writeSomeData(data)
    if not isinstance(sent, int):  # an error: let Twisted's own path meet it
        return data
    return data[sent:]


def write(transport: Any, data: bytes, direct: bool) -> None:
    """``transport.write`` through ``send_now`` when ``direct`` (``can_send_now``)."""
    rest = send_now(transport, data) if direct else data
    if rest:
        transport.write(rest)

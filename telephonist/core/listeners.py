"""Listeners: a receiver a layer calls where it delivers, with no task to wake.

Theory of operation
-------------------
A receive that waits is a parked future: when a message comes, the layer resolves it,
the event loop schedules the waiting task, and one loop turn later the task runs the
receiver's code. For one message that is nothing. For a group send to 1,000 WebSockets
of one process it is 1,000 task wake-ups, and a profile of that broadcast put two
thirds of the server's time in them and in the delivery they led to.

A *listener* lets the receiving side take a message in the same call that delivers it.
It is registered for one process-specific (``!``) channel of this process, on the
running loop (``listen``), and says through ``ready`` whether it can take a message
*now*. The layer hands a message to the listener instead of queueing it, or handing it
to a waiting receive, only when doing so cannot reorder anything: the message is
delivered on the listener's own loop, nothing is queued for the channel, no receive on
the channel holds a message it has not returned yet, and ``ready`` is true. Otherwise
the message takes the ordinary way (queue, or a waiting receive), so a listener never
replaces receiving: the receiver also receives, and gets what the listener did not.
The layer reads ``ready`` while it holds its own state (the in-memory layer's lock) and
calls the listener after, outside it, in arrival order; a message handed to a listener
has left the layer (it counts as received and no longer counts against capacity).

So the layer needs to know nothing of handlers, and the receiving side keeps every
decision: ``telephonist.server.replies`` is ready only while its channel's runner is
parked with nothing in hand, and runs a handler that never awaits right there.

A listener must not raise, nor call back into the layer synchronously (it runs in the
middle of a sender's ``send`` or ``group_send``); the layer logs anything raised and
carries on with the other members. Layers that list ``LISTEN`` in ``extensions``
implement ``listen(channel, listener)`` (``False`` where they cannot call one for that
channel from this loop) and ``unlisten(channel, listener)``.
"""

from __future__ import annotations

import logging
from typing import Protocol

from .codec import Content

__all__ = ["LISTEN", "Listener", "call_listeners", "supports_listen"]

LISTEN = "listen"
"""Name of the extension in a layer's ``extensions``."""

log = logging.getLogger("telephonist.layer")


class Listener(Protocol):
    @property
    def ready(self) -> bool:
        """Whether a message may be handed over now (read under the layer's lock)."""
        ...

    def __call__(self, message: Content) -> None: ...


def supports_listen(layer: object) -> bool:
    return LISTEN in getattr(layer, "extensions", ())


def call_listeners(calls: list[tuple[Listener, Content]]) -> None:
    """Hand each message to its listener, in order; one that raises does not stop the
    others, nor the sender that delivered them."""
    for listener, message in calls:
        try:
            listener(message)
        except Exception:
            log.exception("listener %r failed", listener)

"""The completion message: a worker telling an interface that a consumer has finished.

Some protocols can only promise what the consumer did, not what the layer holds: SMTP's
``250`` means "the mail is safe", and a message in Redis memory is not safe against a
Redis crash. An interface that needs to know asks for it by putting ``completion: True``
in the event it sends (the event must carry a ``reply_channel``). The worker that takes
the event runs it and then sends, on that reply channel, after everything the consumer
itself sent there:

``{"type": "telephonist.done", "outcome": "consumed" | "error" | "no_route" | "denied" |
"dropped"}``

``consumed`` means the consumer returned without raising. ``ConsumeLater`` sends nothing
yet: the event is run again and the completion follows that run. A worker that dies
sends nothing, so the interface bounds its wait itself. Delivery of the completion is
at-most-once like every layer message: an interface that answers a client only on
``consumed`` and otherwise lets it retry gives at-least-once consumption.
"""

from __future__ import annotations

from typing import Final, Literal, TypedDict

__all__ = ["COMPLETION_KEY", "DONE", "Done", "Outcome"]

COMPLETION_KEY: Final = "completion"
DONE: Final = "telephonist.done"

Outcome = Literal["consumed", "error", "no_route", "denied", "dropped"]


class Done(TypedDict):
    type: Literal["telephonist.done"]
    outcome: Outcome

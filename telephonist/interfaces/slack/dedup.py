"""``Deduplicator``: a Slack retry is delivered only if its first copy never reached the layer.

Theory of operation
-------------------
Slack retries an event it thinks we did not take: over Socket Mode when the ack is late
(3 s), over HTTP on a timeout or an error status; and it hands a retry to any of the
app's connections, so with several interface servers the retry may reach another
process than the first copy. Every copy therefore goes through a *claim* on the layer
(``telephonist.core.claims``: atomic set-if-absent with expiry, shared by every process
on Redis) under its de-duplication key (``event.<event_id>`` or
``envelope.<envelope_id>``), in three states:

=============  ===============================================  =======================
claim held     meaning                                          this copy
=============  ===============================================  =======================
(none)         nobody has it                                    NEW: claim "pending",
                                                                send, then "done"
``pending``    another copy is being sent right now             IN_FLIGHT: not
                                                                acknowledged, so Slack
                                                                tries again
``done``       a copy is on the layer                           DUPLICATE: acknowledged,
                                                                not delivered
=============  ===============================================  =======================

A "pending" claim lives ``pending_ttl`` (longer than one send may take), so a process
that dies between claim and send leaves nothing stuck; "done" lives ``dedup_ttl`` (at
least 10 minutes: Slack's retries span about 5). A send that fails drops the claim, so
the retry, which may be the only copy Slack still has, is delivered. The one window
left: a process that dies after the layer took the event but before "done" is written;
its pending claim expires and a later retry is delivered again. When the claims cannot
be reached (the layer is down) the event cannot be sent either: it is not acknowledged.
"""

from __future__ import annotations

import enum

from ...core.claims import Claims

__all__ = ["DONE", "PENDING", "Deduplicator", "Verdict"]

PENDING = "pending"
DONE = "done"


class Verdict(enum.Enum):
    NEW = "new"
    IN_FLIGHT = "in_flight"
    DUPLICATE = "duplicate"


def verdict(held: str | None) -> Verdict:
    """What to do with a copy, from what :meth:`Claims.claim` found."""
    if held is None:
        return Verdict.NEW
    return Verdict.DUPLICATE if held == DONE else Verdict.IN_FLIGHT


class Deduplicator:
    def __init__(self, claims: Claims, pending_ttl: float, done_ttl: float) -> None:
        self.claims = claims
        self.pending_ttl = pending_ttl
        self.done_ttl = done_ttl

    def _key(self, key: str) -> str:
        return f"slack.{key}"[:200]

    async def begin(self, key: str) -> Verdict:
        return verdict(await self.claims.claim(self._key(key), PENDING, self.pending_ttl))

    async def done(self, key: str) -> None:
        await self.claims.set_claim(self._key(key), DONE, self.done_ttl)

    async def failed(self, key: str) -> None:
        await self.claims.drop_claim(self._key(key))

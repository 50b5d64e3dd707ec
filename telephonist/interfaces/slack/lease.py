"""``Lease``: which interface server is a workspace's *poster* (see ``rooms.py``).

Theory of operation
-------------------
A lease is a claim on the layer (``telephonist.core.claims``: set-if-absent with expiry,
atomic for every process on Redis) under ``slack.poster.<team>``, whose value names the
holder. Every interface server serving the workspace runs one :meth:`Lease.run` loop
that, every ``ttl / 3`` seconds, claims the key for ``ttl`` seconds:

=====================  ============================================================
the claim answers      so this server
=====================  ============================================================
``None`` (it was free) holds the lease from now on
its own name           still holds it: the expiry is pushed back (``set_claim``)
another name           does not hold it; that server is the poster
=====================  ============================================================

A holder that dies stops renewing, so its claim lapses within ``ttl`` and the next
server to try (within ``ttl / 3``) takes it. A holder that cannot reach the layer gives
the lease up at once (it could not receive from the layer either); one that stops
drops the claim (:meth:`release`) so the next server takes over at its next renewal
instead of after ``ttl``. The check and the push-back are two steps: a holder whose
renewal came later than ``ttl`` can, in the moment between them, overwrite a claim
another server has just taken; both then serve for one renewal period, until the
other reads the claim and steps down. Two posters at once never post a line twice (a
layer message is taken by one receiver, at most once); they may, for that moment, not
keep the order of lines in one channel. The renewal is a timer per workspace, not a
poll of anything: an idle lease costs one claim per ``ttl / 3`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from ...core.claims import Claims

__all__ = ["Lease"]

log = logging.getLogger("telephonist.interfaces.slack")

#: Called with the holder (``None``: unknown, the layer did not answer) when it changes.
Changed = Callable[[str | None], Awaitable[None]]


class Lease:
    def __init__(self, claims: Claims, team: str, me: str, ttl: float, changed: Changed
                 ) -> None:  # fmt: skip
        self.claims = claims
        self.key = f"slack.poster.{team}"[:200]
        self.me = me
        self.ttl = ttl
        self.holder: str | None = None
        self._changed = changed

    @property
    def held(self) -> bool:
        return self.holder == self.me

    async def renew(self) -> str | None:
        """One claim: the holder now (``None`` when the layer did not answer)."""
        within = self.ttl / 3
        try:
            held = await asyncio.wait_for(self.claims.claim(self.key, self.me, self.ttl), within)
            if held == self.me:
                await asyncio.wait_for(self.claims.set_claim(self.key, self.me, self.ttl), within)
        except Exception as exc:  # the layer is down or slow: we cannot serve from it either
            log.debug("slack: poster lease %s not renewed: %r", self.key, exc)
            return None
        if held is None or held == self.me:
            return self.me
        return held or None  # "": it vanished between the two steps; ask again next time

    async def run(self) -> None:
        while True:
            holder = await self.renew()
            if holder != self.holder:
                self.holder = holder
                try:
                    await self._changed(holder)
                except Exception:  # a bug: say so, keep the lease alive
                    log.exception("slack: poster change of %s failed", self.key)
            await asyncio.sleep(self.ttl / 3)  # the renewal period, not a poll

    async def release(self) -> None:
        """Give the lease up (at stop), so another server need not wait ``ttl``."""
        if self.held:
            self.holder = None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.claims.drop_claim(self.key), self.ttl / 3)

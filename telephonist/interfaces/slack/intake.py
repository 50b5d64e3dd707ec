"""``Intake``: one payload from Slack, onto the layer, and what to acknowledge.

Theory of operation
-------------------
Both transports (Socket Mode envelopes, Events API requests) hand every payload to
:meth:`Intake.take` and act on the :class:`Outcome`: acknowledge (Socket Mode ack,
HTTP 200) with an optional payload, or not (no ack, HTTP 503), so Slack delivers again.

1. **De-duplicate** (``dedup.py``): a copy whose twin is on the layer is acknowledged
   and dropped (``duplicates``); one whose twin is being sent right now is not
   acknowledged (``duplicates_in_flight``: Slack will try again, and by then the twin
   has landed or failed).
2. **Map** (``mapping.py``) with the workspace's token (from the installation store for
   an app installed through OAuth) and the names resolved within ``lookup_timeout``;
   the bot's own messages, and other bots' unless configured, are acknowledged and
   skipped. ``app_uninstalled`` (and the bot token in ``tokens_revoked``) also removes
   the workspace's installation.
3. **Send** to the layer with the conversation's (or the interaction's) reply channel
   as the connection, within ``send_timeout``. The layer refusing (full, too large,
   unreachable) means no acknowledgement, counted ``refused_full``,
   ``refused_too_large``, ``refused_unavailable``, and the claim is dropped so Slack's
   retry is delivered. Only a copy the layer took is acknowledged: ``received``.
4. **Answer in the ack** (commands, view submissions, options, shortcuts): wait until
   ``ack_wait`` after arrival for the consumer's first reply; if it carries an ack
   payload, it rides on the acknowledgement (``ack_payloads``), else the ack is empty.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...core.exceptions import ChannelFull, MessageTooLarge
from ..base import InterfaceHost
from .config import SlackConfig
from .dedup import Deduplicator, Verdict
from .envelopes import Inbound
from .installations import installation_of
from .logs import Throttled
from .mapping import Mapped, Skip, lookups, map_inbound
from .names import NameCache
from .replies import Interaction, ReplyChannels
from .workspaces import Workspaces

__all__ = ["Intake", "Outcome"]

log = logging.getLogger("telephonist.interfaces.slack")


@dataclass(frozen=True)
class Outcome:
    ack: bool
    payload: dict[str, Any] | None = None
    reason: str = ""  # why not acknowledged


_LAYER_DOWN = (TimeoutError, OSError)  # LayerUnavailable is a ConnectionError


class Intake:
    def __init__(
        self, host: InterfaceHost, config: SlackConfig, workspaces: Workspaces, names: NameCache,
        dedup: Deduplicator, replies: ReplyChannels, throttled: Throttled,
        seen_url: Callable[[str], None] = lambda url: None,
    ) -> None:  # fmt: skip
        self.host = host
        self.config = config
        self.workspaces = workspaces
        self.names = names
        self.dedup = dedup
        self.replies = replies
        self._log = throttled
        self._seen_url = seen_url  # a response_url arrived: its 30 minutes start now
        self.draining = False

    def _count(self, name: str) -> None:
        self.host.count(name)

    async def take(self, inbound: Inbound, clock: Callable[[], float] | None = None) -> Outcome:
        loop = asyncio.get_running_loop()
        arrived = (clock or loop.time)()
        if self.draining:
            return self._refuse("refused_draining", "shutting down")
        key = inbound.dedup_key
        if key is not None:
            try:
                verdict = await asyncio.wait_for(self.dedup.begin(key), self.config.send_timeout)
            except _LAYER_DOWN as exc:
                return self._refuse("refused_unavailable", f"de-duplication unreachable: {exc!r}")
            if verdict is Verdict.DUPLICATE:
                self._count("duplicates")
                return Outcome(True)
            if verdict is Verdict.IN_FLIGHT:
                self._count("duplicates_in_flight")
                return Outcome(False, reason="duplicate in flight")
        try:
            mapped = await self._map(inbound)
        except Exception:
            log.exception("slack: could not map a %s payload", inbound.kind)
            self._count("errors")
            await self._release(key)
            return Outcome(False, reason="mapping failed")
        if isinstance(mapped, Skip):
            self._count(mapped.reason)
            if key is not None:
                with contextlib.suppress(*_LAYER_DOWN):
                    await asyncio.wait_for(self.dedup.done(key), self.config.send_timeout)
            return Outcome(True)
        return await self._deliver(inbound, mapped, key, arrived)

    async def _map(self, inbound: Inbound) -> Mapped | Skip:
        wanted = lookups(inbound)
        within = self.config.lookup_timeout
        if self.workspaces.installations is not None:  # OAuth: the token may be in the store
            enterprise, org = installation_of(inbound.payload)
            with contextlib.suppress(TimeoutError):  # the lookup goes on, for the reply
                resolve = self.workspaces.resolve(wanted.team, enterprise, org)
                await asyncio.wait_for(resolve, within)
            if _uninstalls(inbound):
                await self.workspaces.installations.uninstalled(wanted.team, enterprise)
        outbox = self.workspaces.outbox(wanted.team)
        names = await self.names.resolve(wanted, outbox, within)
        bot = None
        with contextlib.suppress(TimeoutError):
            bot = await asyncio.wait_for(self.workspaces.bot(wanted.team), within)
        return map_inbound(inbound, names, bot, self.config.bot_messages)

    async def _deliver(self, inbound: Inbound, mapped: Mapped, key: str | None, arrived: float
                       ) -> Outcome:  # fmt: skip
        session: Interaction | None = None
        if mapped.target.response_url:
            self._seen_url(mapped.target.response_url)
        if mapped.target.interaction:
            session = await self.replies.interaction(mapped.target)
            connection = session.reply_channel
        else:
            connection = await self.replies.conversation(mapped.target)
        send = self.replies.send_event(mapped.channel, mapped.message, connection)
        try:
            await asyncio.wait_for(send, self.config.send_timeout)
        except (ChannelFull, MessageTooLarge, *_LAYER_DOWN) as exc:
            reason = "refused_unavailable"
            if isinstance(exc, ChannelFull):
                reason = "refused_full"
            elif isinstance(exc, MessageTooLarge):
                reason = "refused_too_large"
            if session is not None:
                self.replies.close(session)
            await self._release(key)
            return self._refuse(reason, f"{mapped.channel}: {exc!r}")
        self._count("received")
        if key is not None:
            try:
                await asyncio.wait_for(self.dedup.done(key), self.config.send_timeout)
            except _LAYER_DOWN as exc:  # the event is on the layer: still acknowledged
                self._log(logging.WARNING, "dedup_done", "slack: could not mark %s done: %r",
                          key, exc)  # fmt: skip
        if session is None:
            return Outcome(True)
        if not inbound.accepts_ack_payload:
            session.settle(None)
            return Outcome(True)
        loop = asyncio.get_running_loop()
        remaining = max(0.0, arrived + self.config.ack_wait - loop.time())
        payload = None
        with contextlib.suppress(TimeoutError):
            payload = await asyncio.wait_for(asyncio.shield(session.first_reply), remaining)
        session.settle(None)  # past the deadline: whatever comes later is not an ack
        if payload:
            self._count("ack_payloads")
        return Outcome(True, payload or None)

    async def _release(self, key: str | None) -> None:
        if key is None:
            return
        # Unreachable: the pending claim expires by itself (pending_ttl).
        with contextlib.suppress(*_LAYER_DOWN):
            await asyncio.wait_for(self.dedup.failed(key), self.config.send_timeout)

    def _refuse(self, counter: str, why: str) -> Outcome:
        self._count(counter)
        self._log(logging.WARNING, counter, "slack: not acknowledged (%s): %s", counter, why)
        return Outcome(False, reason=counter)


def _uninstalls(inbound: Inbound) -> bool:
    """``app_uninstalled``, or ``tokens_revoked`` naming bot tokens."""
    event = inbound.payload.get("event") if inbound.kind == "event" else None
    if not isinstance(event, dict):
        return False
    if event.get("type") == "app_uninstalled":
        return True
    tokens = event.get("tokens")
    return (
        event.get("type") == "tokens_revoked"
        and isinstance(tokens, dict)
        and bool(tokens.get("bot"))
    )

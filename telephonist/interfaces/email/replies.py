"""``ReplyRegistry``: one reply channel per inbound message, alive for ``reply_window``.

Mail has no connection whose end would close a reply channel, so the registry bounds
them itself: each channel closes ``reply_window`` seconds after it opened (one timer
handle each, no sweeping), and when ``max_reply_channels`` are open the oldest closes
early. A consumer that answers later sends through ``email.send`` instead.

A message on a reply channel is a chat reply (``telephonist.chat``: ``{"text": ...}``,
an ``action``, a relayed message with ``user``; see ``chat.py``) with ``html``,
``attachments``, ``cc`` optional (``"close": True`` closes the channel after it).
Reactions, edits and deletes send their ``fallback`` or are declined
(``chat_declined_<kind>``). It is
composed into a threaded reply and queued in the outbox. After ``max_replies`` replies
the channel closes: through its room's group a chat consumer's reply channel hears the
whole room, and an hour of chatter must not become an hour of mails. Replies to bounces and to
automatic mail are suppressed and counted (RFC 3834 2: robots must not answer robots,
that is how mail loops start), and so are replies to senders nobody vouched for (no AUTH,
not in ``reply_senders``: see ``inbound.py``). Each address gets at most its
``ReplyQuota`` of replies; the rest are dropped and counted. A suppression is logged
once per reason per minute, with how many more there were: the default policy
suppresses a reply to every unauthenticated mail, which is no news each time.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable

from ...chat import ChatContractError, RateLimitedLog, degrade, validate_reply
from ...core.codec import Content
from ..base import ABORT, InterfaceHost
from .chat import SUPPORTED_KINDS, mail_text
from .compose import OutboundMail, ReplyContext, compose_reply
from .quota import ReplyQuota

__all__ = ["ReplyRegistry"]

log = logging.getLogger("telephonist.interfaces.email.replies")

Submit = Callable[[OutboundMail], bool]


class ReplyRegistry:
    def __init__(
        self,
        host: InterfaceHost,
        submit: Submit | None,
        window: float,
        max_open: int,
        max_replies: int,
        quota: ReplyQuota | None = None,
    ) -> None:
        self.host = host
        self.quota = quota
        self.submit = submit
        self.window = window
        self.max_open = max_open
        self.max_replies = max_replies
        self._open: OrderedDict[str, tuple[ReplyContext, asyncio.TimerHandle]] = OrderedDict()
        self._sent: dict[str, int] = {}  # replies so far, per open channel
        self._declines = RateLimitedLog(log)

    def __len__(self) -> int:
        return len(self._open)

    async def open(self, context: ReplyContext) -> str:
        name: list[str] = []

        async def handler(message: Content) -> None:
            await self._on_message(name[0], message)

        channel = await self.host.open_reply_channel(handler, prefix="email")
        name.append(channel)
        timer = asyncio.get_running_loop().call_later(self.window, self.close, channel)
        self._open[channel] = (context, timer)
        while len(self._open) > self.max_open:
            self.close(next(iter(self._open)))
        return channel

    def close(self, channel: str) -> None:
        entry = self._open.pop(channel, None)
        self._sent.pop(channel, None)
        if entry is not None:
            entry[1].cancel()
            self.host.close_reply_channel(channel)

    def close_all(self) -> None:
        for channel in list(self._open):
            self.close(channel)

    async def _on_message(self, channel: str, message: Content) -> None:
        entry = self._open.get(channel)
        if entry is None:
            return
        if message.get("type") == ABORT:
            # The worker holding this message went away: nobody will answer it.
            self.close(channel)
            return
        context = entry[0]
        try:
            if self._reply(context, message):
                self._sent[channel] = sent = self._sent.get(channel, 0) + 1
                if sent >= self.max_replies:
                    self.host.count("reply_limit")
                    message = {**message, "close": True}
        finally:
            if message.get("close"):
                self.close(channel)

    def _chat(self, message: Content) -> tuple[Content, str] | None:
        """A chat reply as ``(message to compose, From display name)``; ``None`` when
        there is nothing to send (declined, counted and logged)."""
        if "text" not in message and "kind" not in message:
            return message, ""  # html only: composed as it is
        try:
            reply = validate_reply(message)
        except ChatContractError as exc:
            self.host.count("reply_invalid")
            log.error("email: reply refused: %s", exc)
            return None
        count = self.host.count
        outcome = degrade(reply, SUPPORTED_KINDS, count, self._declines, "a mail")
        if outcome.reply is None:
            return None
        name, text = mail_text(outcome.reply)
        return {**message, "text": text}, name

    def _reply(self, context: ReplyContext, message: Content) -> bool:
        """Queue the reply mail; whether one was queued."""
        if "text" not in message and "html" not in message and "kind" not in message:
            return False  # nothing to say (for example a bare {"close": True})
        chat = self._chat(message)
        if chat is None:
            return False
        message, from_name = chat
        if context.suppress_reason is not None:
            self.host.count("reply_suppressed")
            reason = context.suppress_reason
            self._declines.warning(
                f"suppressed.{reason}", "email: a reply was suppressed: %s", reason
            )
            return False
        if self.quota is not None and not self.quota.take(context.reply_to or ""):
            self.host.count("reply_rate_limited")
            self._declines.warning(
                "reply_rate", "email: a reply was dropped: its recipient had its reply_rate"
            )
            return False
        if self.submit is None:
            self.host.count("reply_no_relay")
            log.error("email: reply to %s dropped: no relay is configured", context.reply_to)
            return False
        try:
            mail = compose_reply(context, message, from_name)
        except ValueError as exc:
            self.host.count("reply_invalid")
            log.error("email: reply to %s refused: %s", context.reply_to, exc)
            return False
        if self.submit(mail):
            self.host.count("replies")
            return True
        log.error("email: reply to %s dropped: outbound queue full", context.reply_to)
        return False

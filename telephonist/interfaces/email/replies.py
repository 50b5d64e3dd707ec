"""``ReplyRegistry``: one reply channel per inbound message, until its consumer returns.

Mail has no connection whose end would close a reply channel. Each inbound event asks
the worker for a completion (``telephonist.done``, see ``telephonist.spec.completion``),
which arrives on the reply channel after everything the consumer sent there: that is
when the channel closes (unless ``keep_reply_channels``), so a consumed mail holds no
state here. The completion's outcome is what ``wait_done`` returns to the inbound handler
(``acknowledge = "consumed"``). Without a completion (a worker died, or is not a
Telephonist worker) the channel closes ``reply_window`` seconds after it opened (one
timer for the oldest channel: they are kept in opening order, which is the order their
windows end), and when ``max_reply_channels`` are open the oldest closes early. A
consumer that answers later sends through ``email.send`` instead.

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
from dataclasses import dataclass

from ...chat import ChatContractError, RateLimitedLog, degrade, validate_reply
from ...core.codec import Content
from ...spec.completion import DONE
from ..base import ABORT, InterfaceHost
from .chat import SUPPORTED_KINDS, mail_text
from .compose import OutboundMail, ReplyContext, compose_reply
from .quota import ReplyQuota

__all__ = ["ReplyRegistry"]

log = logging.getLogger("telephonist.interfaces.email.replies")

Submit = Callable[[OutboundMail], bool]

#: ``wait_done`` results besides the completion's outcomes.
TIMEOUT = "timeout"
CLOSED = "closed"  # closed before its completion came (abort, shutdown, eviction)


@dataclass(slots=True, eq=False)
class _Entry:
    context: ReplyContext
    deadline: float  # loop time when reply_window ends
    done: asyncio.Future[str]
    sent: int = 0  # replies so far
    muted: bool = False  # closed for replies, still waiting for the completion


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
        self.keep = False  # keep_reply_channels: stay open after the completion
        # acknowledge = "queued": nobody waits for the outcome, so it is reported here.
        self.report_outcomes = False
        # In opening order, which is deadline order (one window for all): a single timer,
        # for the oldest, is all reply_window needs.
        self._open: OrderedDict[str, _Entry] = OrderedDict()
        self._timer: asyncio.TimerHandle | None = None
        self._declines = RateLimitedLog(log)

    def __len__(self) -> int:
        return len(self._open)

    async def open(self, context: ReplyContext) -> str:
        name: list[str] = []

        # A plain function (it never waits): the server may then call it in the very
        # pass that delivers the message, with no task woken per completion.
        def handler(message: Content) -> None:
            self._on_message(name[0], message)

        channel = await self.host.open_reply_channel(handler, prefix="email")
        name.append(channel)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.window
        self._open[channel] = _Entry(context, deadline, loop.create_future())
        if self._timer is None:
            self._timer = loop.call_at(deadline, self._expire)
        while len(self._open) > self.max_open:
            self.close(next(iter(self._open)))
        return channel

    def _expire(self) -> None:
        """Close the channels whose ``reply_window`` is over; wait for the next one."""
        self._timer = None
        loop = asyncio.get_running_loop()
        now = loop.time()
        while self._open:
            channel, entry = next(iter(self._open.items()))
            if entry.deadline > now:
                self._timer = loop.call_at(entry.deadline, self._expire)
                return
            self.close(channel)

    def completion(self, channel: str) -> asyncio.Future[str]:
        """Resolves to the outcome of ``channel``'s completion, or ``CLOSED``. Take it
        right after ``open``: a completion closes (and forgets) the channel as soon as
        it arrives, maybe before its caller gets to wait."""
        entry = self._open.get(channel)
        if entry is not None:
            return entry.done
        future = asyncio.get_running_loop().create_future()
        future.set_result(CLOSED)
        return future

    async def wait_done(self, channel: str, done: asyncio.Future[str], within: float) -> str:
        """What ``done`` (``completion(channel)``) resolves to, or ``TIMEOUT``; then
        the channel is closed, so a late completion or reply finds nobody."""
        try:
            return await asyncio.wait_for(asyncio.shield(done), within)
        except TimeoutError:
            self.close(channel)
            return TIMEOUT

    def close(self, channel: str) -> None:
        entry = self._open.pop(channel, None)
        if entry is not None:
            if not entry.done.done():
                entry.done.set_result(CLOSED)
            self.host.close_reply_channel(channel)

    def close_all(self) -> None:
        for channel in list(self._open):
            self.close(channel)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _on_message(self, channel: str, message: Content) -> None:
        entry = self._open.get(channel)
        if entry is None:
            return
        kind = message.get("type")
        if kind == ABORT:
            # The worker holding this message went away: nobody will answer it.
            self.close(channel)
            return
        if kind == DONE:
            outcome = message.get("outcome")
            outcome = outcome if isinstance(outcome, str) else "error"
            if not entry.done.done():
                entry.done.set_result(outcome)
            if self.report_outcomes and outcome != "consumed":
                # Already answered 250: all that is left is to say so.
                self.host.count(f"queued_then_{outcome}")
                self._declines.warning(
                    f"outcome.{outcome}",
                    "email: a mail answered 250 (acknowledge = queued) ended %s in the worker",
                    outcome,
                )
            if entry.muted or not self.keep:
                self.close(channel)  # the consumer returned: nothing more will come
            return
        if entry.muted:
            return
        try:
            if self._reply(entry.context, message):
                entry.sent += 1
                if entry.sent >= self.max_replies:
                    self.host.count("reply_limit")
                    message = {**message, "close": True}
        finally:
            if message.get("close"):
                # The inbound handler may still wait for the completion: closing now
                # would answer 451 for a mail its consumer is handling fine.
                if entry.done.done():
                    self.close(channel)
                else:
                    entry.muted = True

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

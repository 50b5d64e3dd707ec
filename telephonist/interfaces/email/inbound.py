"""``InboundHandler``: aiosmtpd hooks that turn an SMTP transaction into layer messages.

The delivery promise
--------------------
``acknowledge = "consumed"`` (the default): ``250`` is answered only once, for every
recipient, a worker's consumer took the message and returned without error. Each event
asks for a completion (``completion: True``); the worker sends ``telephonist.done`` on
the message's reply channel after the consumer returned (``ReplyRegistry.wait_done``).
A consumer error, no completion within ``ack_timeout`` (a worker died, the layer lost the
message) or a layer that refuses the message gets ``451``: the sender keeps the mail and
retries. That is at-least-once: a mail consumed whose ``250`` never reached the sender
is consumed again on the retry. A recipient no consumer routes gets ``550 5.1.1``.

``acknowledge = "queued"``: ``250`` once ``host.send_event`` returned for every
recipient, so the message is on the channel layer, and only as safe as the layer.

When the layer refuses (``ChannelFull``), does not answer within ``send_timeout``, or
is unreachable, the answer is ``451``. An outage is logged twice (``OutageLog``): when
it starts and when it ends, with the count of refused mails.

One message per recipient: each accepted envelope recipient gets its own
``email.receive`` message (with ``to``/``room`` set to that recipient) and its own
reply channel, so routing on the recipient (``to=r"^support@"``) works and each
mailbox's consumer answers from its own address. If a transaction fails half-way
through the recipients, the ones already delivered (queued, or consumed) are remembered
(``RecentSet``) and the sender's retry delivers only the rest.

Relaying is impossible: ``RCPT`` for an address that is not ours gets ``550 5.7.1``; one
of our domains that no ``recipients`` pattern serves gets ``550 5.1.1``.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import logging
from dataclasses import replace
from typing import Any

from ...core.exceptions import ChannelFull, MessageTooLarge
from ...core.ratelog import OutageLog, RateLimitedLog
from ...spec.completion import COMPLETION_KEY
from ..base import InterfaceHost
from .chat import contract_keys
from .compose import ReplyContext
from .config import EmailConfig
from .dedup import RecentSet
from .envelope import address_problem
from .fallback import fallback_keys, slimmed
from .headers import normalize_address
from .message import parse_message
from .replies import TIMEOUT, ReplyRegistry
from .server import hook_names

__all__ = ["InboundHandler"]

log = logging.getLogger("telephonist.interfaces.email.inbound")

_OK = "250 2.0.0 OK: queued for {n} recipient(s)"
_CONSUMED = "250 2.0.0 OK: delivered to {n} recipient(s)"
_TRY_LATER = "451 4.3.0 Temporarily unable to accept the message, try again later"
_NOT_HANDLED = "451 4.3.0 The message could not be handled, try again later"
_NO_MAILBOX = "550 5.1.1 Mailbox unavailable: no consumer for {rcpt}"
_DENIED = "550 5.7.1 Delivery not authorized for {rcpt}"
_UNKNOWN = "550 5.1.1 Mailbox unavailable: not a served address"
_TOO_BIG = "552 5.3.4 Message too big for this system"
_SHUTTING_DOWN = "421 4.3.2 Service shutting down, try again later"


Key = tuple[bytes, str | None, str]  # (digest, sender, recipient) of one delivery


class _Rejected(Exception):
    def __init__(self, status: str) -> None:
        self.status = status


class InboundHandler:
    def __init__(self, config: EmailConfig, host: InterfaceHost, replies: ReplyRegistry) -> None:
        self.config = config
        self.host = host
        self.replies = replies
        self.limits = config.parse_limits()
        self.delivered = RecentSet(config.dedup_window, config.dedup_entries)
        self.draining = False
        self.inflight = 0
        self.consumed = config.acknowledge == "consumed"
        self.outage = OutageLog(log, "email: the channel layer")
        self._warn = RateLimitedLog(log)

    def __dir__(self) -> list[str]:
        # What aiosmtpd looks for on every connection (handle_* hooks, auth_* methods),
        # found once: see SMTPSession.__dir__.
        return hook_names(type(self), ("handle_", "auth_"))

    def count_refused_address(self) -> None:
        """An envelope address in a relay form was refused (``envelope.py``)."""
        self.host.count("rejected_address")

    # -- aiosmtpd hooks (handle_VERB) ----------------------------------------------------

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if not self.config.auth_users:
            # aiosmtpd would still advertise a bare "AUTH" with no mechanism.
            responses = [r for r in responses if not r[4:].startswith("AUTH")]
        # aiosmtpd reads and answers commands strictly in order from one stream, which is
        # all RFC 2920 asks; it discards buffered clear text at STARTTLS (RFC 3207 5).
        responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.draining:
            asyncio.get_running_loop().call_soon(server.goodbye)
            return _SHUTTING_DOWN
        problem = address_problem(address, sender=True)
        if problem is not None:
            self.count_refused_address()
            return problem
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if len(envelope.rcpt_tos) >= self.config.max_recipients:
            self.host.count("rejected_too_many_recipients")
            return "452 4.5.3 Too many recipients"
        problem = address_problem(address, sender=False)
        if problem is not None:
            self.count_refused_address()
            return problem
        if not self.config.accepts(address):
            self.host.count("rejected_relay")
            log.info("email: relaying denied for %r from %s", address[:256], session.peer)
            return "550 5.7.1 Relaying denied: not a local address"
        if not self.config.serves(address):
            self.host.count("rejected_unknown_recipient")
            return _UNKNOWN
        rcpt = normalize_address(address)
        if rcpt not in envelope.rcpt_tos:  # the same mailbox twice gets one message
            envelope.rcpt_tos.append(rcpt)
            envelope.rcpt_options.extend(options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.inflight += 1
        try:
            return await self._deliver(server, session, envelope)
        finally:
            self.inflight -= 1
            if self.draining:  # the transaction is answered; end the session politely
                asyncio.get_running_loop().call_soon(server.goodbye)

    # -- delivery ----------------------------------------------------------------------

    async def _deliver(self, server: Any, session: Any, envelope: Any) -> str:
        raw: bytes = envelope.original_content or b""
        try:
            parsed = parse_message(raw, self.limits)
        except Exception:  # the parser is total by design; a bug must not lose mail
            log.exception("email: MIME parser crashed; delivering the raw text instead")
            parsed = fallback_keys(raw)
        sender = None if envelope.mail_from in ("<>", "") else envelope.mail_from
        digest = hashlib.sha256(raw).digest()
        recipients = list(envelope.rcpt_tos)
        session_keys = {
            "sender": sender,
            "recipients": recipients,
            "peer": str(session.peer[0]) if session.peer else "",
            "tls": bool(server.tls_active),
            "auth_user": _login(session),
        }
        context = self._context(parsed, sender, session_keys["auth_user"] is not None)
        pending: list[tuple[Key, str, asyncio.Future[str]]] = []  # key, channel, done
        refusal: str | None = None
        for rcpt in recipients:
            key = (digest, sender, rcpt)
            if key in self.delivered:  # delivered before this transaction's earlier 451
                self.delivered.discard(key)
                self.host.count("duplicates_skipped")
                continue
            event = {"type": self.config.channel, **parsed, **session_keys, "to": rcpt,
                     **contract_keys(parsed, rcpt, sender), COMPLETION_KEY: True}  # fmt: skip
            try:
                channel = await self._send(event, context, rcpt)
            except _Rejected as rejected:
                refusal = rejected.status
                break
            pending.append((key, channel, self.replies.completion(channel)))
        if self.consumed:
            delivered, status = await self._completions(pending)
        else:
            delivered, status = [key for key, _, _ in pending], None
        status = refusal or status
        self.host.count("received", len(delivered))
        if status is not None:
            # Only a partly delivered transaction is remembered: the sender will retry
            # it whole. A mail that went through completely is forgotten, so a
            # legitimately repeated identical mail is delivered again.
            for key in delivered:
                self.delivered.add(key)
            return status
        return (_CONSUMED if self.consumed else _OK).format(n=len(recipients))

    async def _completions(
        self, pending: list[tuple[Key, str, asyncio.Future[str]]]
    ) -> tuple[list[Key], str | None]:
        """Wait (``ack_timeout`` for all together) for the consumers of ``pending``:
        the keys consumed, and the answer if not all were (451 before 550)."""
        outcomes = await asyncio.gather(
            *(self.replies.wait_done(c, done, self.config.ack_timeout) for _, c, done in pending)
        )
        delivered: list[Key] = []
        retry: str | None = None
        refuse: str | None = None
        for (key, _, _), outcome in zip(pending, outcomes, strict=True):
            rcpt = key[2]
            if outcome == "consumed":
                delivered.append(key)
            elif outcome == "no_route":
                self.host.count("rejected_no_route")
                self._warn.warning("no_route", "email: no consumer routes mail for %s: 550", rcpt)
                refuse = refuse or _NO_MAILBOX.format(rcpt=rcpt)
            elif outcome == "denied":
                self.host.count("rejected_denied")
                refuse = refuse or _DENIED.format(rcpt=rcpt)
            else:
                reason = "ack_timeout" if outcome == TIMEOUT else f"consumer_{outcome}"
                self.host.count(f"rejected_{reason}")
                self._warn.warning(
                    reason, "email: mail for %s not consumed (%s): 451", rcpt, outcome
                )
                retry = _NOT_HANDLED
        return delivered, retry or refuse

    def _context(
        self, parsed: dict[str, Any], sender: str | None, authenticated: bool
    ) -> ReplyContext:
        # Replies go to the envelope sender only, and only when it is vouched for (AUTH,
        # or reply_senders): a Reply-To or From header is whatever the writer typed,
        # and answering it would let anyone send mail through us to anyone.
        vouched = sender is not None and (authenticated or self.config.may_reply_to(sender))
        precedence = next((v for n, v in parsed["headers"] if n == "precedence"), "")
        suppress = None
        if sender is None:
            suppress = "the mail is a bounce (null sender)"
        elif parsed["auto_submitted"]:
            suppress = "the mail is Auto-Submitted"
        elif precedence.strip().lower() in ("bulk", "list", "junk"):
            suppress = f"the mail has Precedence: {precedence.strip()}"
        elif not vouched:
            suppress = "the sender neither authenticated nor is in reply_senders"
        return ReplyContext(
            own_address="",  # filled per recipient
            reply_to=sender if vouched else None,
            subject=parsed["subject"],
            message_id=parsed["message_id"],
            references=tuple(parsed["references"]),
            suppress_reason=suppress,
        )

    async def _send(self, event: dict[str, Any], context: ReplyContext, rcpt: str) -> str:
        """Put one recipient's event on the layer (and return its reply channel) or
        raise ``_Rejected`` with the answer."""
        channel = await self.replies.open(replace(context, own_address=rcpt))
        stage = 0
        candidate: dict[str, Any] | None = event
        try:
            while candidate is not None:
                try:
                    # A mail is one event: no connection affinity to bind and release
                    # (``last=True``). The completion, or ``reply_window``, ends it.
                    # A timeout scope, not wait_for: no task of its own per mail.
                    async with asyncio.timeout(self.config.send_timeout):
                        await self.host.send_event(
                            self.config.channel, candidate, connection=channel, last=True
                        )
                    self.outage.ok()
                    return channel
                except MessageTooLarge:
                    stage += 1
                    candidate = slimmed(event, stage)
                    if candidate is not None:
                        self.host.count("slimmed")
            self.host.count("rejected_too_large")
            raise _Rejected(_TOO_BIG)
        except ChannelFull:
            self.replies.close(channel)
            self.host.count("rejected_layer_full")  # ChannelFull itself counted by the host
            self._warn.warning("layer_full", "email: layer full, answering 451 for %s", rcpt)
            raise _Rejected(_TRY_LATER) from None
        except (TimeoutError, OSError) as exc:  # LayerUnavailable is a ConnectionError
            self.replies.close(channel)
            self.host.count("rejected_layer_unavailable")
            self.outage.failed(exc)  # one line per outage, not one per mail
            raise _Rejected(_TRY_LATER) from None
        except _Rejected:
            self.replies.close(channel)
            raise
        except Exception:
            # Unknown failure: the sender keeps the mail and retries, nothing is lost.
            self.replies.close(channel)
            log.exception("email: unexpected error sending to the layer; answering 451")
            raise _Rejected(_TRY_LATER) from None


# aiosmtpd reads handle_EHLO's signature on every connection (to tell its two hook
# styles apart); computed once here, inspect.signature finds it and stops there.
InboundHandler.handle_EHLO.__signature__ = inspect.signature(  # type: ignore[attr-defined]
    InboundHandler.handle_EHLO
)


def _login(session: Any) -> str | None:
    # session.auth_data is what our authenticator returned (the login, as bytes); the
    # older session.login_data logs a deprecation warning on every access.
    if not getattr(session, "authenticated", False):
        return None
    login = getattr(session, "auth_data", None)
    return login.decode("utf-8", "replace") if isinstance(login, bytes) else None

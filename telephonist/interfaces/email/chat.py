"""Mail in the common chat contract (``telephonist.chat``). Pure: no I/O.

Theory of operation
-------------------
A mailbox is a room: the envelope recipient is ``room`` and ``room_id``; the author is
``user`` (the From display name, else the address) with the address as ``user_id``.
Threads are the mail's own: ``message_id`` is its Message-ID, ``reply_to`` its
In-Reply-To, and ``thread_id`` the first of its References (the thread's root), else
In-Reply-To; a mail starting a thread has none. ``timestamp`` is its Date header (the
time it arrived when the Date is missing or unreadable), ``is_bot`` says it is automatic
(Auto-Submitted, a null sender).

A chat reply becomes a mail: ``message``/``notice`` as the body, an ``action`` as
``* user text``. A relayed reply (``user``) is attributed in the From display name,
``ann (web)``, which every mail client shows beside each message. Mail has no
reactions, edits or deletes: those send their ``fallback`` text, or are declined.
"""

from __future__ import annotations

from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

from ...chat import ChatReply, label, make_event

__all__ = ["SUPPORTED_KINDS", "contract_keys", "mail_text"]

#: The reply kinds a mail can carry; the others fall back or are declined.
SUPPORTED_KINDS = frozenset({"message", "action", "notice"})


def _timestamp(date: object) -> float | None:
    if not isinstance(date, str) or not date:
        return None
    try:
        return parsedate_to_datetime(date).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def contract_keys(parsed: Mapping[str, Any], rcpt: str, sender: str | None) -> dict[str, Any]:
    """The chat contract's keys of an inbound mail for recipient ``rcpt``."""
    address = parsed.get("user") or sender or ""
    references = [r for r in parsed.get("references") or [] if isinstance(r, str) and r]
    in_reply_to = parsed.get("in_reply_to") or None
    return dict(
        make_event(
            "email",
            "message",
            text=parsed.get("text") or "",
            room=rcpt,
            user=parsed.get("user_name") or address,
            room_id=rcpt,
            user_id=address.lower(),
            is_bot=bool(parsed.get("auto_submitted")) or sender is None,
            message_id=parsed.get("message_id") or None,
            thread_id=references[0] if references else in_reply_to,
            reply_to=in_reply_to,
            timestamp=_timestamp(parsed.get("date")),
        )
    )


def mail_text(reply: ChatReply) -> tuple[str, str]:
    """``(from display name, body)`` for a chat reply of a supported kind."""
    user = reply.get("user", "")
    text = reply.get("text", "")
    name = f"{user} ({label(reply['protocol'])})" if user and reply.get("protocol") else user
    if reply.get("kind") == "action":
        text = f"* {user} {text}" if user else f"* {text}"
    return name, text

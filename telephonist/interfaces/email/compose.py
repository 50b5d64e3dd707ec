"""Outbound composition: ``email.send`` messages and chat replies in, RFC 5322 bytes out.

Pure, no I/O. Header injection must be impossible whatever a consumer passes, because
consumers routinely copy user input (a subject, a name) into mail. Three rules do it:

* every free-text header value goes through ``clean_text`` (no CR, LF or other control
  character survives), then through the stdlib's header folding, which encodes
  non-ASCII as RFC 2047 words;
* every address must parse as exactly one ``addr-spec`` (no lists hidden in a string,
  no control characters) and is set as a structured ``Address``, never as raw text;
* extra headers must have a plain token name and may not be a structural header
  (From, To, Bcc, Content-Type, ...): those only come from their own keys.

``Bcc`` recipients are envelope recipients only; they never appear in the headers.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid
from typing import Any

from .headers import clean_text, normalize_address

__all__ = [
    "MAX_EXTRA_HEADERS",
    "MAX_REFERENCES",
    "OutboundMail",
    "ReplyContext",
    "compose_reply",
    "compose_send",
    "parse_address",
    "reply_subject",
]

MAX_EXTRA_HEADERS = 32
MAX_REFERENCES = 20  # RFC 5322 3.6.4 lets us trim; long threads otherwise grow forever
_ADDR_SPEC = re.compile(r"^[^\s@<>()\[\],;:\"\\]{1,64}@[^\s@<>()\[\],;:\"\\]{1,253}$")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,75}$")
_CONTENT_TYPE = re.compile(r"^[A-Za-z0-9][\w.+-]*/[A-Za-z0-9][\w.+-]*$")
_MSG_ID = re.compile(r"^<[^<>\s]{1,900}>$")
_RE_PREFIX = re.compile(r"^\s*(re|aw|sv|antw)(\[\d+\])?\s*:", re.IGNORECASE)
_STRUCTURAL = frozenset(
    {
        "from", "to", "cc", "bcc", "sender", "reply-to", "subject", "date", "message-id",
        "in-reply-to", "references", "mime-version", "content-type", "content-disposition",
        "content-transfer-encoding", "return-path", "received",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class OutboundMail:
    """One mail ready for the relay: envelope plus the exact bytes to send."""

    sender: str
    recipients: tuple[str, ...]
    data: bytes
    smtputf8: bool = False
    id: str | None = None
    attempts: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class ReplyContext:
    """What the interface remembers about an inbound mail so a ``{"text": ...}`` on its
    reply channel can become a threaded reply."""

    own_address: str  # the recipient the mail came to: the reply's From
    reply_to: str | None  # the envelope sender, when it may get replies (else None)
    subject: str
    message_id: str | None
    references: tuple[str, ...]
    suppress_reason: str | None = None  # set for bounces and auto-replies (RFC 3834)


def parse_address(value: object, what: str) -> tuple[str, str]:
    """``(display_name, addr_spec)`` from ``"a@b"`` or ``"Name <a@b>"``; ``ValueError``
    for anything else, including two addresses in one string."""
    if not isinstance(value, str) or clean_text(value) != value or not value.strip():
        raise ValueError(f"{what}: {value!r} is not a single mail address")
    parsed = getaddresses([value])
    if len(parsed) != 1 or not _ADDR_SPEC.match(parsed[0][1]):
        raise ValueError(f"{what}: {value!r} is not a single mail address")
    return clean_text(parsed[0][0]).strip(), parsed[0][1]


def _address_list(value: object, what: str) -> list[tuple[str, str]]:
    if value is None:
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise ValueError(f"{what} must be an address or a list of addresses")
    return [parse_address(item, what) for item in items]


def _header_address(name: str, addr: str) -> Address:
    local, _, domain = addr.rpartition("@")
    return Address(display_name=name, username=local, domain=domain)


def reply_subject(subject: str) -> str:
    """``Re: subject``, without stacking prefixes (``Re: Re: ...``)."""
    subject = clean_text(subject).strip()
    return subject if _RE_PREFIX.match(subject) else f"Re: {subject}".rstrip()


def _attachments(msg: EmailMessage, items: object) -> None:
    if items is None:
        return
    if not isinstance(items, list):
        raise ValueError("attachments must be a list")
    for item in items:
        if not isinstance(item, Mapping) or not isinstance(item.get("content"), bytes):
            raise ValueError("each attachment needs a name and bytes content")
        name = clean_text(str(item.get("name") or "attachment")).strip() or "attachment"
        ctype = item.get("content_type") or mimetypes.guess_type(name)[0]
        ctype = ctype or "application/octet-stream"
        if not isinstance(ctype, str) or not _CONTENT_TYPE.match(ctype):
            raise ValueError(f"attachment {name!r}: bad content_type {ctype!r}")
        maintype, subtype = ctype.split("/", 1)
        msg.add_attachment(item["content"], maintype, subtype, filename=name)


def _build(
    *,
    sender: tuple[str, str],
    to: list[tuple[str, str]],
    cc: list[tuple[str, str]],
    bcc: list[tuple[str, str]],
    subject: str,
    text: object,
    html: object,
    attachments: object,
    extra: Mapping[str, str],
    mail_id: str | None,
) -> OutboundMail:
    if not (to or cc or bcc):
        raise ValueError("a mail needs at least one recipient (to, cc or bcc)")
    for key, body in (("text", text), ("html", html)):
        if body is not None and not isinstance(body, str):
            raise ValueError(f"{key} must be a string")
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = _header_address(*sender)
    if to:
        msg["To"] = [_header_address(*a) for a in to]
    if cc:
        msg["Cc"] = [_header_address(*a) for a in cc]
    msg["Subject"] = clean_text(subject).strip()
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain=sender[1].rpartition("@")[2])
    msg["MIME-Version"] = "1.0"
    for name, value in extra.items():
        msg[name] = clean_text(value).strip()
    msg.set_content(text if isinstance(text, str) else "")
    if isinstance(html, str):
        msg.add_alternative(html, subtype="html")
    _attachments(msg, attachments)
    recipients = tuple(dict.fromkeys(a for _, a in to + cc + bcc))
    utf8 = not all(a.isascii() for a in (sender[1], *recipients))
    data = msg.as_bytes(policy=policy.SMTPUTF8 if utf8 else policy.SMTP)
    return OutboundMail(sender[1], recipients, data, smtputf8=utf8, id=mail_id)


def _extra_headers(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or len(value) > MAX_EXTRA_HEADERS:
        raise ValueError(f"headers must be a mapping of at most {MAX_EXTRA_HEADERS} entries")
    extra: dict[str, str] = {}
    for name, val in value.items():
        if not isinstance(name, str) or not _HEADER_NAME.match(name):
            raise ValueError(f"header name {name!r} is not a plain token")
        if name.lower() in _STRUCTURAL:
            raise ValueError(f"header {name!r} can only be set through its own key")
        if not isinstance(val, str):
            raise ValueError(f"header {name!r} must have a string value")
        extra[name] = val
    return extra


def _threading(in_reply_to: object, references: Iterable[object]) -> dict[str, str]:
    refs = [r for r in references if isinstance(r, str) and _MSG_ID.match(r)]
    headers: dict[str, str] = {}
    if isinstance(in_reply_to, str) and _MSG_ID.match(in_reply_to):
        headers["In-Reply-To"] = in_reply_to
    if refs:
        headers["References"] = " ".join(refs[-MAX_REFERENCES:])
    return headers


def compose_send(message: Mapping[str, Any], default_from: str | None) -> OutboundMail:
    """Compose an ``email.send`` message; ``ValueError`` says what is wrong with it."""
    sender = parse_address(message.get("from_address") or default_from, "from_address")
    subject = message.get("subject", "")
    if not isinstance(subject, str):
        raise ValueError("subject must be a string")
    extra = _extra_headers(message.get("headers"))
    refs = message.get("references") or []
    extra.update(_threading(message.get("in_reply_to"), refs if isinstance(refs, list) else []))
    if message.get("reply_to") is not None:
        name, addr = parse_address(message["reply_to"], "reply_to")
        extra["Reply-To"] = str(_header_address(name, addr))
    mail_id = message.get("id")
    return _build(
        sender=sender,
        to=_address_list(message.get("to"), "to"),
        cc=_address_list(message.get("cc"), "cc"),
        bcc=_address_list(message.get("bcc"), "bcc"),
        subject=subject,
        text=message.get("text"),
        html=message.get("html"),
        attachments=message.get("attachments"),
        extra=extra,
        mail_id=str(mail_id) if mail_id is not None else None,
    )


def compose_reply(
    context: ReplyContext, reply: Mapping[str, Any], from_name: str = ""
) -> OutboundMail:
    """Compose the answer to an inbound mail: From the address it was sent to (with
    ``from_name``, the author of a relayed message), To its author, ``Re:`` subject,
    ``In-Reply-To`` (the mail, or the reply's ``reply_to`` when it names another of the
    thread) and ``References`` for threading, and ``Auto-Submitted: auto-replied``
    (RFC 3834) so other robots do not answer back."""
    if context.reply_to is None:
        raise ValueError("the inbound mail has no address to reply to")
    refs = [*context.references, *([context.message_id] if context.message_id else [])]
    parent = reply.get("reply_to")
    if not (isinstance(parent, str) and _MSG_ID.match(parent)):
        parent = context.message_id
    extra = _threading(parent, refs)
    extra["Auto-Submitted"] = "auto-replied"
    return _build(
        sender=(clean_text(from_name).strip(), normalize_address(context.own_address)),
        to=[parse_address(context.reply_to, "reply_to")],
        cc=_address_list(reply.get("cc"), "cc"),
        bcc=[],
        subject=reply_subject(context.subject),
        text=reply.get("text"),
        html=reply.get("html"),
        attachments=reply.get("attachments"),
        extra=extra,
        mail_id=None,
    )

"""The email message spec in code: channel names and the shape of every message.

``docs/email.md`` is the prose version; keep the two in step. All values are
msgpack-safe (str, bytes, int, bool, None, lists, dicts) so they cross any layer.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

__all__ = [
    "RECEIVE",
    "SEND",
    "SEND_FAILED",
    "AttachmentIn",
    "AttachmentOut",
    "EmailReceive",
    "EmailReply",
    "EmailSend",
    "EmailSendFailed",
]

RECEIVE = "email.receive"
"""Channel (and message ``type``) of inbound mail: one message per accepted recipient."""

SEND = "email.send"
"""Channel the interface consumes to send mail through the configured relay."""

SEND_FAILED = "email.send.failed"
"""Type of the report sent to ``failure_channel`` when a mail cannot be delivered."""


class AttachmentIn(TypedDict):
    """A non-body MIME part of an inbound mail."""

    name: str | None  # decoded filename, None when the part has none
    content_type: str  # lower-case "type/subtype"
    size: int  # decoded size in bytes
    content: bytes | None  # None when over the attachment limits (see docs)
    content_id: str | None  # "<cid>" for inline images referenced by the HTML
    inline: bool  # Content-Disposition: inline


class EmailReceive(TypedDict):
    type: Literal["email.receive"]
    # envelope (the SMTP transaction)
    to: str  # the envelope recipient this message is for (normalised)
    recipients: list[str]  # every accepted envelope recipient of the transaction
    sender: str | None  # envelope MAIL FROM; None for the null reverse-path "<>"
    # chat contract
    text: str  # plain body without quoted reply and signature
    user: str  # the author: From: address, else the envelope sender, else ""
    room: str  # == to
    # content
    user_name: str  # display name of From:
    subject: str
    message_id: str | None
    in_reply_to: str | None
    references: list[str]
    date: str | None
    headers: list[list[str]]  # [[lower-case name, decoded value], ...] in order
    addresses: dict[str, list[list[str]]]  # from/to/cc/reply_to: [[name, address], ...]
    plain: str | None  # whole text/plain body (truncated to body_limit)
    html: str | None  # whole text/html body (truncated to body_limit)
    attachments: list[AttachmentIn]
    truncated: bool  # a body was cut at body_limit
    defects: list[str]  # what the MIME parser found wrong (names of email.errors)
    auto_submitted: bool  # Auto-Submitted other than "no", or a null sender
    # session facts
    peer: str  # client IP address
    tls: bool
    auth_user: str | None  # the SMTP AUTH login, if the client authenticated
    # added by the host
    reply_channel: NotRequired[str]
    order: NotRequired[int]


class AttachmentOut(TypedDict):
    name: str
    content: bytes
    content_type: NotRequired[str]  # default: guessed from name, else octet-stream


class EmailSend(TypedDict):
    """A mail to send (channel ``email.send``). Only ``to`` (or cc/bcc) is required."""

    type: NotRequired[str]  # "email.send"
    id: NotRequired[str]  # caller's identifier, echoed in failure reports
    to: NotRequired[list[str] | str]
    cc: NotRequired[list[str] | str]
    bcc: NotRequired[list[str] | str]
    from_address: NotRequired[str]  # default: the configured default_from
    reply_to: NotRequired[str]
    subject: NotRequired[str]
    text: NotRequired[str]
    html: NotRequired[str]
    attachments: NotRequired[list[AttachmentOut]]
    headers: NotRequired[dict[str, str]]  # extra headers; structural ones refused
    in_reply_to: NotRequired[str]
    references: NotRequired[list[str]]


class EmailReply(TypedDict):
    """What a consumer sends on an inbound message's reply channel."""

    text: NotRequired[str]
    html: NotRequired[str]
    attachments: NotRequired[list[AttachmentOut]]
    cc: NotRequired[list[str] | str]


class EmailSendFailed(TypedDict):
    type: Literal["email.send.failed"]
    id: str | None
    recipients: list[str]  # the recipients this report is about
    code: int | None  # the relay's SMTP reply code, None for connection/TLS errors
    error: str
    attempts: int
    permanent: bool  # 5xx (True) or retries exhausted on 4xx/connection errors (False)

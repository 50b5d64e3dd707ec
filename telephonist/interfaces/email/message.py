"""MIME parsing: raw message bytes in, the content keys of an ``email.receive`` message out.

Pure, no I/O. The contract is *total*: any bytes a client managed to get through DATA
produce a result, because the caller has already decided to answer 250 and a parse
failure must not lose the message. Malformed input is described in ``defects``.

The stdlib parser runs with (a raw-header variant of) the ``compat32`` policy on
purpose: it hands us raw header strings and raw payloads and never raises on bad
structure, where the modern policy's lazy header objects can raise later, at access
time. Decoding (RFC 2047, charsets, transfer encodings) is then done by our own total
functions in ``headers``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email import policy
from email.message import Message as StdMessage
from email.parser import BytesParser
from html.parser import HTMLParser
from typing import Any

from .headers import (
    charset_decode,
    clean_text,
    decode_header_value,
    parse_addresses,
    parse_msg_ids,
    scrub,
)
from .quoting import strip_quoted_reply
from .simple import Items, plain_charset, split_simple
from .spec import AttachmentIn

__all__ = ["ParseLimits", "html_to_text", "parse_message"]

_ADDRESS_HEADERS = {"from": "from", "to": "to", "cc": "cc", "reply-to": "reply_to"}


class _RawHeaders(policy.Compat32):
    """compat32, but header values come back as the raw (surrogate-escaped) strings:
    compat32 would turn 8-bit bytes into U+FFFD before we could repair them."""

    def header_fetch_parse(self, name: str, value: str) -> str:
        return value


_POLICY = _RawHeaders()


@dataclass(frozen=True, slots=True)
class ParseLimits:
    body_limit: int = 256 * 1024  # characters per body (plain, html)
    attachment_content_limit: int = 256 * 1024  # bytes of one attachment's content
    attachments_total_limit: int = 512 * 1024  # bytes of all attachment contents
    max_parts: int = 100  # MIME leaves examined; the rest is reported as a defect
    max_depth: int = 10  # multipart nesting
    max_headers: int = 200  # top-level headers listed in ``headers``


class _HTMLText(HTMLParser):
    """Visible text of an HTML body: drops script/style, breaks lines at blocks."""

    _BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "blockquote"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0
        self._quote = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head"):
            self._skip += 1
        if tag == "blockquote":
            self._quote += 1
        if tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head") and self._skip:
            self._skip -= 1
        if tag == "blockquote" and self._quote:
            self._quote -= 1
        if tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._quote:  # quoted history in HTML mail: mark it like plain-text quoting
            data = "\n".join("> " + line for line in data.split("\n"))
        self.parts.append(data)


def html_to_text(html: str) -> str:
    parser = _HTMLText()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # HTMLParser is lenient, but never let a body break parsing.
        pass
    lines = [" ".join(line.split()) for line in "".join(parser.parts).split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


@dataclass(slots=True)
class _Walk:
    limits: ParseLimits
    plain: str | None = None
    html: str | None = None
    truncated: bool = False
    leaves: int = 0
    content_total: int = 0
    attachments: list[AttachmentIn] = field(default_factory=list)
    defects: set[str] = field(default_factory=set)

    def body(self, part: StdMessage) -> str:
        data = part.get_payload(decode=True)
        return self.text(data if isinstance(data, bytes) else b"", part.get_content_charset())

    def text(self, data: bytes, charset: str | None) -> str:
        text = charset_decode(data, charset).replace("\r\n", "\n")
        if len(text) > self.limits.body_limit:
            self.truncated = True
            text = text[: self.limits.body_limit]
        return text

    def attachment(self, part: StdMessage, ctype: str, disposition: str | None) -> None:
        if ctype == "message/rfc822":
            inner = part.get_payload()
            data = _as_bytes(inner[0] if isinstance(inner, list) and inner else part)
        else:
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
        name = part.get_filename()
        cid = part.get("Content-ID")
        fits = (
            len(data) <= self.limits.attachment_content_limit
            and self.content_total + len(data) <= self.limits.attachments_total_limit
        )
        if fits:
            self.content_total += len(data)
        self.attachments.append(
            {
                "name": decode_header_value(str(name)) if name else None,
                "content_type": ctype,
                "size": len(data),
                "content": data if fits else None,
                "content_id": clean_text(str(cid)).strip() if cid else None,
                "inline": disposition == "inline",
            }
        )

    def walk(self, part: StdMessage, depth: int) -> None:
        self.defects.update(type(d).__name__ for d in part.defects)
        ctype = clean_text(part.get_content_type()).lower()
        if part.is_multipart() and ctype != "message/rfc822":
            if depth >= self.limits.max_depth:
                self.defects.add("TooDeeplyNested")
                return
            payload = part.get_payload()
            for sub in payload if isinstance(payload, list) else []:
                if isinstance(sub, StdMessage):
                    self.walk(sub, depth + 1)
            return
        self.leaves += 1
        if self.leaves > self.limits.max_parts:
            self.defects.add("TooManyParts")
            return
        disposition = part.get_content_disposition()
        named = part.get_filename() is not None
        body_part = disposition != "attachment" and not named
        if body_part and ctype == "text/plain" and self.plain is None:
            self.plain = self.body(part)
        elif body_part and ctype == "text/html" and self.html is None:
            self.html = self.body(part)
        else:  # later text parts too: the first of each kind is the body
            self.attachment(part, ctype, disposition)


def _as_bytes(msg: Any) -> bytes:
    try:
        data = msg.as_bytes(policy=policy.compat32)
        return data if isinstance(data, bytes) else b""
    except Exception:  # a broken embedded message is still kept, as what we can get
        return b""


def _first_values(items: Items) -> dict[str, str]:
    """The first value of each top-level header, by lower-case name: one pass, where
    each ``msg.get`` would scan every header again."""
    return {name.lower(): value for name, value in reversed(items)}


def _structure(raw: bytes, limits: ParseLimits) -> tuple[Items, dict[str, str], _Walk]:
    """The top-level header items (raw values), their first values and the walked MIME
    tree: read directly for a single plain-text part (``simple.py``), else by the
    stdlib parser."""
    walk = _Walk(limits)
    simple = split_simple(raw)
    if simple is not None:
        items, body = simple
        first = _first_values(items)
        charset = plain_charset(first)
        if charset is not False:
            walk.plain = walk.text(body, charset if isinstance(charset, str) else None)
            return items, first, walk
    msg = BytesParser(policy=_POLICY).parsebytes(raw)
    walk.walk(msg, 0)
    items = [(name, str(value)) for name, value in msg.items()]
    return items, _first_values(items), walk


def parse_message(raw: bytes, limits: ParseLimits | None = None) -> dict[str, Any]:
    """Parse ``raw`` (the DATA of one SMTP transaction). Returns the keys ``subject``,
    ``message_id``, ``in_reply_to``, ``references``, ``date``, ``headers``,
    ``addresses``, ``user``, ``user_name``, ``plain``, ``html``, ``text``,
    ``attachments``, ``truncated``, ``defects``, ``auto_submitted``."""
    limits = limits or ParseLimits()
    items, first, walk = _structure(raw, limits)
    headers: list[list[str]] = []
    for name, value in items[: limits.max_headers]:
        headers.append([clean_text(name).strip().lower(), decode_header_value(value)])
    if len(items) > limits.max_headers:
        walk.defects.add("TooManyHeaders")

    addresses: dict[str, list[list[str]]] = {}
    for header, key in _ADDRESS_HEADERS.items():
        values = [v for n, v in items if n.lower() == header] if header in first else []
        addresses[key] = [[n, a] for n, a in parse_addresses(*values)] if values else []
    author = addresses["from"][0] if addresses["from"] else ["", ""]

    chat_source = walk.plain if walk.plain is not None else html_to_text(walk.html or "")
    auto = (first.get("auto-submitted") or "no").strip().lower()
    in_reply_to = parse_msg_ids(first.get("in-reply-to"))
    message_id = parse_msg_ids(first.get("message-id"))
    return {
        "subject": decode_header_value(first.get("subject") or ""),
        "message_id": message_id[0] if message_id else None,
        "in_reply_to": in_reply_to[-1] if in_reply_to else None,
        "references": parse_msg_ids(first.get("references")),
        "date": clean_text(first.get("date") or "").strip() or None,
        "headers": headers,
        "addresses": addresses,
        "user": author[1],
        "user_name": author[0],
        "plain": walk.plain,
        "html": walk.html,
        "text": scrub(strip_quoted_reply(chat_source)),
        "attachments": walk.attachments,
        "truncated": walk.truncated,
        "defects": sorted(walk.defects),
        "auto_submitted": not auto.startswith("no"),
    }

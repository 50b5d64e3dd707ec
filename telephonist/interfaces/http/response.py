"""From ``http.response.start`` / ``http.response.body`` messages to h11 events, and the
server's own error answers.

A consumer's reply is untrusted input too: a status outside 200-599 or a header that is
not a token/visible-text pair would let one bad consumer corrupt the byte stream other
requests on the connection share (response splitting), so it is refused here and the
client gets a 500 (or, mid-response, a closed connection). h11 checks the grammar and
the framing (a body longer than its Content-Length, for instance); this module checks
the message shape and keeps HEAD responses body-less.
"""

from __future__ import annotations

import re
import time
from email.utils import formatdate
from http import HTTPStatus
from typing import Any

import h11

__all__ = [
    "ReplyError",
    "date_header",
    "error_events",
    "header_pairs",
    "parse_body",
    "parse_start",
    "raw_error",
]


class ReplyError(ValueError):
    """The consumer sent a reply message this server cannot turn into HTTP."""


_date_cache: tuple[int, bytes] = (0, b"")
# Reason phrases looked up once: an ``HTTPStatus(...)`` call per response is not free.
_REASONS = {s.value: s.phrase.encode("ascii") for s in HTTPStatus}


def date_header() -> bytes:
    """The ``Date`` value, formatted at most once a second (it is on every response)."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True).encode("ascii"))
    return _date_cache[1]


def _as_bytes(value: Any, what: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        try:
            return value.encode("latin-1")
        except UnicodeEncodeError as exc:
            raise ReplyError(f"{what} {value!r} is not latin-1") from exc
    raise ReplyError(f"{what} must be bytes or str, got {type(value).__name__}")


def parse_start(message: dict[str, Any], *, close: bool = False) -> h11.Response:
    """An h11 ``Response`` for ``http.response.start``; ``ReplyError`` if malformed.
    ``close`` adds ``Connection: close`` (the connection ends after this response)."""
    status = message.get("status")
    if not isinstance(status, int) or isinstance(status, bool) or not 200 <= status <= 599:
        raise ReplyError(f"status must be an int from 200 to 599, got {status!r}")
    raw_headers = message.get("headers") or []
    if not isinstance(raw_headers, list | tuple):
        raise ReplyError("headers must be a list of [name, value] pairs")
    headers: list[tuple[bytes, bytes]] = []
    has_date = False
    for pair in raw_headers:
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise ReplyError(f"header {pair!r} is not a [name, value] pair")
        name = _as_bytes(pair[0], "header name").lower()
        has_date = has_date or name == b"date"
        # Whitespace around a value is not part of it (RFC 9110 5.5); WSGI code such as
        # Django's cookie output leaves a leading space that h11 would refuse.
        headers.append((name, _as_bytes(pair[1], "header value").strip(b" \t")))
    if not has_date:
        headers.append((b"date", date_header()))
    if close:
        headers.append((b"connection", b"close"))
    try:
        return h11.Response(status_code=status, headers=headers, reason=_REASONS.get(status, b""))
    except h11.LocalProtocolError as exc:
        raise ReplyError(f"invalid response headers: {exc}") from exc


def header_pairs(raw: Any) -> list[tuple[bytes, bytes]]:
    """Trailer headers (``http.response.trailers``) as lower-cased byte pairs; names are
    tokens, values visible text (no CR, LF or NUL: no splitting of what follows)."""
    if not isinstance(raw, list | tuple):
        raise ReplyError("headers must be a list of [name, value] pairs")
    out: list[tuple[bytes, bytes]] = []
    for pair in raw:
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise ReplyError(f"header {pair!r} is not a [name, value] pair")
        name = _as_bytes(pair[0], "header name").lower()
        value = _as_bytes(pair[1], "header value").strip(b" \t")
        if not _TOKEN.fullmatch(name) or any(c in value for c in b"\r\n\0"):
            raise ReplyError(f"invalid trailer {name!r}")
        out.append((name, value))
    return out


_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9a-z]+")


def parse_body(message: dict[str, Any]) -> tuple[bytes, bool]:
    """``(body, more_body)`` of ``http.response.body``."""
    body = message.get("body", b"")
    if isinstance(body, bytearray | memoryview):
        body = bytes(body)
    if not isinstance(body, bytes):
        raise ReplyError(f"body must be bytes, got {type(body).__name__}")
    return body, bool(message.get("more_body", False))


def error_events(
    status: int, *, close: bool, headers: list[tuple[bytes, bytes]] | None = None
) -> list[h11.Response | h11.Data | h11.EndOfMessage]:
    """A short plain-text answer from the server itself (400, 408, 413, 503, 504, ...)."""
    phrase = HTTPStatus(status).phrase
    body = f"{status} {phrase}\n".encode("ascii")
    all_headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode("ascii")),
        (b"date", date_header()),
        *(headers or []),
    ]
    if close:
        all_headers.append((b"connection", b"close"))
    return [
        h11.Response(status_code=status, headers=all_headers, reason=phrase.encode("ascii")),
        h11.Data(data=body),
        h11.EndOfMessage(),
    ]


def raw_error(status: int, headers: list[tuple[bytes, bytes]] | None = None) -> bytes:
    """The bytes of a closing error answer when there is no h11 state to send it through
    (the head could not be parsed, the connection limit is reached)."""
    phrase = HTTPStatus(status).phrase
    body = f"{status} {phrase}\n".encode("ascii")
    lines = [
        f"HTTP/1.1 {status} {phrase}".encode("ascii"),
        b"content-type: text/plain; charset=utf-8",
        b"content-length: " + str(len(body)).encode("ascii"),
        b"date: " + date_header(),
        b"connection: close",
        *(name + b": " + value for name, value in headers or []),
    ]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body

"""Request-head checks that come before and on top of h11.

Theory of operation
-------------------
h11 is the parser (request line and header grammar, chunked framing). It is lenient
where leniency is how requests get smuggled past a proxy that reads them differently,
so these checks reject, with 400 and a closed connection, what h11 would accept:

* bare LF or bare CR as a line ending (h11 takes ``\\n``; many proxies do not);
* obsolete line folding (h11 unfolds it; RFC 9112 lets a server reject it);
* control characters in a header line other than HTAB (h11 lets most through);
* ``Content-Length`` together with ``Transfer-Encoding``, and ``Content-Length``
  given more than once even with equal values: either is how two hops disagree
  about where a body ends.

The head is scanned in the raw bytes, before h11 sees it, because folding and line
endings are gone once h11 has parsed. Scanning is incremental (``HeadScanner``) so a
client trickling bytes costs linear, not quadratic, time. Nothing here does I/O.
"""

from __future__ import annotations

import re

import h11

__all__ = ["HeadError", "HeadScanner", "check_header_lines", "framing", "parse_head"]

# A LF not preceded by CR, or a CR followed by anything but LF.
_BAD_EOL = re.compile(rb"(?<!\r)\n|\r(?=[^\n])")
# Control characters other than HTAB (CR and LF are line structure, checked above).
_CTL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class HeadError(Exception):
    """The request head is refused: answer ``status`` and close the connection."""

    def __init__(self, status: int, reason: str, counter: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.counter = counter


class HeadScanner:
    """Find the end of a request head in a growing buffer, checking line endings.

    ``feed(buf)`` with the whole buffer each time (it remembers how far it looked);
    returns the length of the head, blank line included, or ``-1`` while incomplete.
    The caller strips the empty lines RFC 9112 2.2 allows before a request line.
    """

    __slots__ = ("_max_bytes", "_scanned")

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._scanned = 0

    def reset(self) -> None:
        self._scanned = 0

    def feed(self, buf: bytes | bytearray) -> int:
        # Re-examine 3 bytes of overlap so a terminator split across reads is found.
        start = max(0, self._scanned - 3)
        end = buf.find(b"\r\n\r\n", start)
        stop = len(buf) if end < 0 else end + 4
        # Only the head is scanned: body bytes in the same read may hold any octet.
        if _BAD_EOL.search(buf, start, stop):
            raise HeadError(400, "bare CR or LF in request head", "bad_request")
        if stop > self._max_bytes:
            raise HeadError(431, "request head too large", "headers_too_large")
        self._scanned = stop
        return -1 if end < 0 else stop


def check_header_lines(head: bytes, max_count: int) -> None:
    """Checks on the raw header lines of a complete head (request line excluded).

    Framing is checked here, on the raw lines, because h11 folds two identical
    ``Content-Length`` headers into one before anyone can count them."""
    lines = head.strip(b"\r\n").split(b"\r\n")[1:]
    if len(lines) > max_count:
        raise HeadError(431, f"more than {max_count} header lines", "headers_too_many")
    content_length = 0
    transfer_encoding = False
    for line in lines:
        if line[:1] in (b" ", b"\t"):
            raise HeadError(400, "obsolete line folding in headers", "bad_request")
        if _CTL.search(line):
            raise HeadError(400, "control character in a header line", "bad_request")
        name = line.partition(b":")[0].lower()
        if name == b"content-length":
            content_length += 1
        elif name == b"transfer-encoding":
            transfer_encoding = True
    if content_length > 1:
        raise HeadError(400, "Content-Length given more than once", "bad_request")
    if content_length and transfer_encoding:
        raise HeadError(400, "both Content-Length and Transfer-Encoding", "bad_request")


def framing(headers: list[tuple[bytes, bytes]]) -> tuple[int | None, bool]:
    """``(content_length, chunked)``; h11 has validated both already."""
    length: int | None = None
    chunked = False
    for name, value in headers:
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = True
    return length, chunked


def parse_head(head: bytes, max_count: int, max_bytes: int) -> tuple[h11.Connection, h11.Request]:
    """A complete head (``HeadScanner`` found its end) through these checks and a fresh
    ``h11.Connection``, which then de-frames the body and writes the response."""
    check_header_lines(head, max_count)
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=max_bytes + 4)
    conn.receive_data(head)
    try:
        event = conn.next_event()
    except h11.RemoteProtocolError as exc:
        status = exc.error_status_hint if 400 <= exc.error_status_hint < 500 else 400
        raise HeadError(status, f"h11: {exc}", "bad_request") from exc
    if not isinstance(event, h11.Request):
        raise HeadError(400, "incomplete request head", "bad_request")
    return conn, event

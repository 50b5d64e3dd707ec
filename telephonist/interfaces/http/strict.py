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

__all__ = ["HeadError", "HeadScanner", "check_header_lines", "framing", "wants_websocket"]

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


def wants_websocket(method: bytes, headers: list[tuple[bytes, bytes]]) -> bool:
    """A ``GET`` asking to upgrade to WebSocket (names lowercased, as h11 gives them)."""
    if method != b"GET":
        return False
    upgrade = connection = False
    for name, value in headers:
        if name == b"upgrade":
            upgrade = upgrade or b"websocket" in value.lower()
        elif name == b"connection":
            connection = connection or any(
                t.strip() == b"upgrade" for t in value.lower().split(b",")
            )
    return upgrade and connection


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

"""An HTTP/2 request head, from the header list ``h2`` decoded to what a stream needs.

Pure: pseudo-headers are taken apart from the fields (``h2`` has checked their order
and grammar already), a ``host`` field is made from ``:authority`` when the client sent
none (ASGI applications, Django's ``ALLOWED_HOSTS`` first, read ``Host``), and the
HTTP/1.1 limits are applied the way HTTP/1.1 applies them: the list's size (counted as
``SETTINGS_MAX_HEADER_LIST_SIZE`` counts it, 32 bytes per field on top) and its number
of fields (431), a declared body over the limit (413), and a target that is no path or
a plain CONNECT, which this server does not tunnel (400).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

__all__ = ["H2Request", "Head", "read_head"]


class H2Request(NamedTuple):
    """What the access log and the scope need of a request (``h11.Request``'s names)."""

    method: bytes
    target: bytes
    http_version: bytes


class Head(NamedTuple):
    request: H2Request
    #: The fields, without pseudo-headers, ``host`` first if it was made here.
    headers: list[tuple[bytes, bytes]]
    #: ``:protocol`` of an extended CONNECT (RFC 8441), else None.
    protocol: bytes | None
    #: ``(status, counter, reason)`` to answer instead of serving, or None.
    problem: tuple[int, str, str] | None


def read_head(
    raw: Iterable[tuple[bytes, bytes]],
    *,
    max_header_bytes: int,
    max_header_count: int,
    max_body_bytes: int,
) -> Head:
    pseudo: dict[bytes, bytes] = {}
    headers: list[tuple[bytes, bytes]] = []
    size = 0
    for name, value in raw:
        name, value = bytes(name), bytes(value)
        size += len(name) + len(value) + 32
        if name.startswith(b":"):
            pseudo[name] = value
        else:
            headers.append((name, value))
    authority = pseudo.get(b":authority")
    if authority is not None and not any(n == b"host" for n, _ in headers):
        headers.insert(0, (b"host", authority))
    method = pseudo.get(b":method", b"")
    protocol = pseudo.get(b":protocol") if method == b"CONNECT" else None
    request = H2Request(method, pseudo.get(b":path", b"/" if protocol else b""), b"2")
    problem = None
    if size > max_header_bytes or len(headers) > max_header_count:
        problem = (431, "headers_too_large", "request headers over the limit")
    elif (method == b"CONNECT" and protocol is None) or not request.target.startswith((b"/", b"*")):
        problem = (400, "bad_request", "CONNECT or a target that is not a path")
    else:
        length = next((v for n, v in headers if n == b"content-length"), None)
        if length is not None and length.isdigit() and int(length) > max_body_bytes:
            problem = (413, "body_too_large", f"declared body of {int(length)} bytes")
    return Head(request, headers, protocol, problem)

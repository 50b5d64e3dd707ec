"""The HTTP/2 request head (``h2_head.read_head``), without sockets."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from telephonist.interfaces.http.h2_head import read_head

LIMITS = {"max_header_bytes": 1000, "max_header_count": 10, "max_body_bytes": 100}
BASE = [
    (b":method", b"GET"),
    (b":path", b"/p?q"),
    (b":scheme", b"https"),
    (b":authority", b"ex.org"),
]

_FIELD = st.tuples(st.binary(min_size=1, max_size=30), st.binary(max_size=200))


@given(st.lists(_FIELD, max_size=20))
def test_limits_as_http1_and_host_from_authority(fields: list[tuple[bytes, bytes]]) -> None:
    fields = [(b"x-" + n.lower().replace(b":", b""), v) for n, v in fields]
    head = read_head([*BASE, *fields], **LIMITS)
    size = sum(len(n) + len(v) + 32 for n, v in [*BASE, *fields])
    assert head.request == (b"GET", b"/p?q", b"2")
    assert not any(n.startswith(b":") for n, _ in head.headers)
    assert head.headers[0] == (b"host", b"ex.org")
    too_big = size > 1000 or len(fields) + 1 > 10
    assert (head.problem is not None and head.problem[0] == 431) == too_big
    assert head.protocol is None


def test_answers_before_serving() -> None:
    def problem(*extra: tuple[bytes, bytes], base: list[tuple[bytes, bytes]] = BASE) -> int:
        found = read_head([*base, *extra], **LIMITS).problem
        return found[0] if found else 0

    assert problem((b"host", b"given.org")) == 0
    assert read_head([*BASE, (b"host", b"given.org")], **LIMITS).headers == [
        (b"host", b"given.org")
    ]
    assert problem((b"content-length", b"101")) == 413
    assert problem((b"content-length", b"100")) == 0
    connect = [(b":method", b"CONNECT"), (b":authority", b"ex.org:443")]
    assert problem(base=connect) == 400  # a plain CONNECT is not tunnelled here
    websocket = read_head(
        [(b":method", b"CONNECT"), (b":protocol", b"websocket"), (b":path", b"/ws"),
         (b":scheme", b"https"), (b":authority", b"ex.org")],
        **LIMITS,
    )  # fmt: skip
    assert websocket.protocol == b"websocket"
    assert websocket.problem is None
    assert websocket.request.target == b"/ws"

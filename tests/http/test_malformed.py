"""Malformed and ambiguous requests are refused with a 4xx and a closed connection.

h11 is the reference: for any request bytes h11 (as a server) rejects, this server
must answer 4xx and close. Checked on a fixed list (the smuggling classics, plus what
h11 accepts but this server refuses on purpose) and on requests hypothesis generates.
Each case is a fresh TCP connection to ``telephonist run`` in a subprocess.
"""

from __future__ import annotations

import contextlib
import socket

import h11
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.http.process import RunningServer


def exchange(port: int, data: bytes, within: float = 2.5) -> tuple[bytes, bool]:
    """Send ``data``; return what came back and whether the server closed the socket
    (``False``: still open when ``within`` ran out)."""
    with socket.create_connection(("127.0.0.1", port), timeout=within) as sock:
        with contextlib.suppress(OSError):  # it may refuse and close before reading all
            sock.sendall(data)
        chunks = []
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    return b"".join(chunks), True
                chunks.append(chunk)
        except ConnectionResetError:
            return b"".join(chunks), True
        except TimeoutError:
            return b"".join(chunks), False


def h11_verdict(data: bytes) -> str:
    """``"reject"``, ``"accept"`` or ``"incomplete"`` for h11 as a server."""
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(data)
    try:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                return "incomplete"
            if isinstance(event, h11.EndOfMessage) or event is h11.PAUSED:
                return "accept"
    except h11.RemoteProtocolError:
        return "reject"


def assert_refused(port: int, data: bytes) -> int:
    answer, closed = exchange(port, data)
    status = int(answer[9:12]) if answer.startswith(b"HTTP/1.1 ") else 0
    assert 400 <= status < 500, (data, answer[:200])
    assert status != 408, ("refused only after the header timeout", data)
    assert closed, ("connection left open after refusing", data)
    return status


H = b"Host: x\r\n"
CASES = {
    # h11 rejects these too.
    "conflicting content-length": b"POST / HTTP/1.1\r\n"
    + H
    + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    "content-length not a number": b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 1x\r\n\r\na",
    "content-length with a sign": b"POST / HTTP/1.1\r\n" + H + b"Content-Length: +1\r\n\r\na",
    "unsupported transfer-encoding": b"POST / HTTP/1.1\r\n"
    + H
    + b"Transfer-Encoding: gzip\r\n\r\n",
    "chunked twice": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked, chunked\r\n\r\n",
    "bad chunk size": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
    "chunk without CRLF": b"POST / HTTP/1.1\r\n"
    + H
    + b"Transfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n",
    "space before colon": b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
    "invalid header name": b"GET / HTTP/1.1\r\n" + H + b"X(y): 1\r\n\r\n",
    "empty header name": b"GET / HTTP/1.1\r\n" + H + b": 1\r\n\r\n",
    "NUL in value": b"GET / HTTP/1.1\r\n" + H + b"X: a\x00b\r\n\r\n",
    "CR in value": b"GET / HTTP/1.1\r\n" + H + b"X: a\rb\r\n\r\n",
    "missing host": b"GET / HTTP/1.1\r\n\r\n",
    "two hosts": b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "continuation first": b"GET / HTTP/1.1\r\n X: a\r\n" + H + b"\r\n",
    "bad method": b"G(T / HTTP/1.1\r\n" + H + b"\r\n",
    "two spaces": b"GET  / HTTP/1.1\r\n" + H + b"\r\n",
    "8-bit target": b"GET /\xff HTTP/1.1\r\n" + H + b"\r\n",
    "bad version": b"GET / HTTP/1.x\r\n" + H + b"\r\n",
    "not http": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
    # h11 accepts these; they are refused here because proxies disagree about them.
    "content-length and chunked": b"POST / HTTP/1.1\r\n"
    + H
    + b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "same content-length twice": b"POST / HTTP/1.1\r\n"
    + H
    + b"Content-Length: 1\r\nContent-Length: 1\r\n\r\na",
    "obs-fold": b"GET / HTTP/1.1\r\n" + H + b"X: a\r\n b\r\n\r\n",
    "control char in value": b"GET / HTTP/1.1\r\n" + H + b"X: a\x01b\r\n\r\n",
    "DEL in value": b"GET / HTTP/1.1\r\n" + H + b"X: a\x7fb\r\n\r\n",
    "bare LF": b"GET / HTTP/1.1\n" + H.replace(b"\r\n", b"\n") + b"\n",
    "bare CR": b"GET / HTTP/1.1\r" + H + b"\r\n",
    "leading blank line": b"\r\nGET / HTTP/1.1\r\n" + H + b"\r\n",
    "leading space": b" GET / HTTP/1.1\r\n" + H + b"\r\n",
}


@pytest.mark.parametrize("name", list(CASES))
def test_malformed_request_refused(web_server: RunningServer, name: str) -> None:
    status = assert_refused(web_server.port, CASES[name])
    assert status in (400, 413, 431, 501)


def test_valid_request_still_served(web_server: RunningServer) -> None:
    answer, _ = exchange(
        web_server.port, b"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 200")


# -- generated requests -----------------------------------------------------------------

_TOKEN = b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_NASTY = b' \t\r\n\x00\x01\x7f\x80\xff:;,()"/[]{}=@?\\'


def _chars(pool: bytes, max_size: int) -> st.SearchStrategy[bytes]:
    return st.lists(st.sampled_from(list(pool)), min_size=0, max_size=max_size).map(bytes)


_name = st.one_of(
    st.sampled_from([b"Content-Length", b"Transfer-Encoding", b"Host", b"Connection", b"X-A"]),
    _chars(_TOKEN, 8).filter(bool),
    _chars(_TOKEN + _NASTY, 8),
)
_value = st.one_of(
    st.sampled_from([b"0", b"1", b"5", b"chunked", b"close", b"x", b"-1", b"1, 1", b" 3 "]),
    _chars(_TOKEN + b" \t", 12),
    _chars(_TOKEN + _NASTY, 12),
)
_eol = st.sampled_from([b"\r\n"] * 8 + [b"\n", b"\r", b"\r\n "])
_line = st.tuples(_name, st.sampled_from([b": ", b":", b" : ", b":\t"]), _value, _eol).map(
    lambda t: t[0] + t[1] + t[2] + t[3]
)
_request_line = st.tuples(
    st.sampled_from([b"GET", b"POST", b"PUT", b"HEAD", b"G T", b"get", b""]),
    st.sampled_from([b" "] * 6 + [b"  ", b"\t"]),
    st.one_of(st.just(b"/"), st.just(b"/a?b=c"), _chars(b"/abc%?#" + _NASTY, 8)),
    st.sampled_from([b" HTTP/1.1", b" HTTP/1.0", b" HTTP/1.x", b" HTTP/2.0", b"", b"  HTTP/1.1"]),
    _eol,
).map(lambda t: b"".join(t))
_body = st.one_of(
    st.just(b""),
    st.sampled_from([b"0\r\n\r\n", b"1\r\na\r\n0\r\n\r\n", b"5\r\nab\r\n", b"zz\r\n", b"abcde"]),
    _chars(_TOKEN + _NASTY, 16),
)
requests = st.tuples(_request_line, st.booleans(), st.lists(_line, max_size=6), _body).map(
    lambda t: t[0] + (b"Host: x\r\n" if t[1] else b"") + b"".join(t[2]) + b"\r\n" + t[3]
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=requests)
def test_whatever_h11_rejects_is_refused(web_server: RunningServer, data: bytes) -> None:
    if h11_verdict(data) == "reject":
        assert_refused(web_server.port, data)

"""The protocol logic without sockets: head checks, proxy headers, scope mapping, reply
parsing, origin policy, the Django environ."""

from __future__ import annotations

import io

import pytest

from telephonist.django.asgi_body import BodyStore
from telephonist.django.asgi_environ import asgi_scope, wsgi_environ
from telephonist.interfaces.http.config import HttpConfig
from telephonist.interfaces.http.proxy import Forwarded, TrustedProxies
from telephonist.interfaces.http.response import ReplyError, parse_start
from telephonist.interfaces.http.scope import Endpoint, split_target, www_scope
from telephonist.interfaces.http.strict import HeadError, HeadScanner, check_header_lines
from telephonist.interfaces.websocket.messages import Accept, Close, Send, parse_reply
from telephonist.interfaces.websocket.origin import OriginPolicy


def test_scanner_finds_head_across_reads_and_checks_only_the_head() -> None:
    scanner = HeadScanner(1024)
    buf = bytearray(b"GET / HTTP/1.1\r\nHost: x\r\n\r")
    assert scanner.feed(buf) == -1
    buf += b"\nbody with a bare \n LF"
    assert scanner.feed(buf) == len(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")


@pytest.mark.parametrize("head", [b"GET / HTTP/1.1\nHost: x\n\n", b"GET / HTTP/1.1\rHost"])
def test_scanner_refuses_bare_line_endings(head: bytes) -> None:
    with pytest.raises(HeadError) as err:
        HeadScanner(1024).feed(head)
    assert err.value.status == 400


def test_scanner_limits_size_even_when_incomplete() -> None:
    with pytest.raises(HeadError) as err:
        HeadScanner(100).feed(b"GET / HTTP/1.1\r\nX: " + b"a" * 200)
    assert err.value.status == 431


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nX: a\x01\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\ncontent-length: 1\r\nContent-Length: 1\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 5 + b"\r\n", 431),
    ],
)
def test_header_line_checks(head: bytes, status: int) -> None:
    with pytest.raises(HeadError) as err:
        check_header_lines(head, max_count=4)
    assert err.value.status == status


def test_header_line_checks_accept_tab_and_obs_text() -> None:
    check_header_lines(b"GET / HTTP/1.1\r\nX: a\tb\xe9\r\n\r\n", max_count=4)


def test_proxies_believed_only_from_trusted_peers() -> None:
    headers = [
        (b"x-forwarded-for", b"6.6.6.6, 203.0.113.7, 10.0.0.2"),
        (b"x-forwarded-proto", b"https"),
        (b"x-forwarded-host", b"example.com"),
        (b"x-forwarded-prefix", b"/app/"),
    ]
    proxies = TrustedProxies(["10.0.0.0/8"])
    assert proxies.forwarded("192.0.2.1", headers) == Forwarded()
    found = proxies.forwarded("10.0.0.1", headers)
    # Rightmost untrusted hop: the client cannot forge it by prepending addresses.
    assert found.client == "203.0.113.7"
    assert found.scheme == "https"
    assert found.host == b"example.com"
    assert found.prefix == "/app"
    assert TrustedProxies(["unix"]).forwarded(None, headers).scheme == "https"


def test_bad_proxy_entry_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="not-an-ip"):
        HttpConfig(trusted_proxies=["not-an-ip"])


def test_config_forbids_unknown_keys() -> None:
    with pytest.raises(ValueError, match="max_body"):
        HttpConfig(max_body=1)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (b"/a/b?x=1", (b"/a/b", b"x=1")),
        (b"http://h:1/p?q", (b"/p", b"q")),
        (b"http://h?q", (b"/", b"q")),
        (b"*", (b"*", b"")),
    ],
)
def test_split_target(target: bytes, expected: tuple[bytes, bytes]) -> None:
    assert split_target(target) == expected


def test_scope_with_forwarded_and_root_path() -> None:
    scope = www_scope(
        kind="websocket",
        method=b"GET",
        target=b"/x%2Fy",
        http_version=b"1.1",
        headers=[(b"host", b"internal")],
        endpoint=Endpoint("10.0.0.1", 5000, "127.0.0.1", 8000, tls=False),
        forwarded=Forwarded(client="203.0.113.7", scheme="https", host=b"example.com"),
        root_path="/mnt",
    )
    assert scope["scheme"] == "wss"
    assert scope["client"] == ["203.0.113.7", 0]
    assert scope["path"] == "/mnt/x/y"
    assert scope["raw_path"] == b"/mnt/x%2Fy"
    assert scope["headers"] == [[b"host", b"example.com"]]
    assert "method" not in scope


@pytest.mark.parametrize(
    "message",
    [
        {"status": 1000},
        {"status": True},
        {"status": 200, "headers": [[b"a b", b"c"]]},
        {"status": 200, "headers": [[b"a", b"c\r\nd: e"]]},
        {"status": 200, "headers": [["é", "x"]]},
        {"status": 200, "headers": "nope"},
    ],
)
def test_bad_response_start(message: dict[str, object]) -> None:
    with pytest.raises(ReplyError):
        parse_start(message)


def test_websocket_reply_dialects() -> None:
    assert parse_reply({"type": "websocket.accept", "subprotocol": "chat"}) == [Accept("chat")]
    assert parse_reply({"text": "hi"}) == [Send("hi")]
    assert parse_reply({"accept": True, "bytes": b"x", "close": 4000}) == [
        Accept(),
        Send(b"x"),
        Close(4000),
    ]
    assert parse_reply({"type": "websocket.close", "code": 403}) == [Close(403)]


def test_origin_policy() -> None:
    policy = OriginPolicy(["https://*.example.com", "http://localhost:8000"], allow_missing=False)
    assert policy.allows("https://a.example.com")
    assert policy.allows("HTTP://LOCALHOST:8000/")
    assert not policy.allows("https://example.com.evil.org")
    assert not policy.allows(None)
    assert OriginPolicy(["*"]).allows("null")


def test_wsgi_environ_from_a_message() -> None:
    first = {
        "method": "POST",
        "path": "/root/é",
        "root_path": "/root",
        "query_string": b"a=1",
        "http_version": "1.1",
        "scheme": "https",
        "client": ["1.2.3.4", 5],
        "server": ["127.0.0.1", 8000],
        "headers": [
            [b"content-type", b"text/plain"],
            [b"content-length", b"999"],
            [b"cookie", b"a=1"],
            [b"cookie", b"b=2"],
            [b"x-auth_user", b"forged"],
        ],
    }
    env = wsgi_environ(first, io.BytesIO(b"abc"), 3)
    assert env["SCRIPT_NAME"] == "/root"
    assert env["PATH_INFO"] == "/é".encode().decode("latin-1")
    assert env["CONTENT_LENGTH"] == "3"
    assert env["CONTENT_TYPE"] == "text/plain"
    assert env["HTTP_COOKIE"] == "a=1; b=2"
    assert "HTTP_X_AUTH_USER" not in env
    assert env["REMOTE_ADDR"] == "1.2.3.4"
    assert env["wsgi.url_scheme"] == "https"
    assert asgi_scope(first)["client"] == ("1.2.3.4", 5)


def test_body_store_assembles_in_order_and_bounds_itself() -> None:
    store = BodyStore(spool_bytes=4, limit=2)
    assert store.add("a", {"order": 0, "body": b"12", "more_body": True}) is None
    done = store.add("a", {"order": 1, "body": b"345678", "more_body": False})
    assert done is not None
    assert done.file.read() == b"12345678"
    for key in "xyz":
        store.add(key, {"order": 0, "body": b"1", "more_body": True})
    assert len(store) == 2  # the oldest was dropped
    assert store.add("x", {"order": 1, "body": b"2", "more_body": False}) is None
    # A body whole in its first message is handed back at once and never stored.
    single = store.add("s", {"order": 0, "body": b"abc", "more_body": False})
    assert single is not None
    assert single.done
    assert single.length == 3
    assert single.file.read() == b"abc"
    assert len(store) == 2

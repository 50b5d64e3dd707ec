"""Channel and HTTP sessions, users and ordering, through the real Dispatcher.

The consumers run in the tester's worker threads, which open their own database
connections: the data must be committed, hence transactional tests.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client

from telephonist.django.sessions import session_for_reply_channel
from telephonist.django.state import connection_state
from telephonist.django.testing import ConsumerTester
from telephonist.routing import route, route_class
from telephonist.worker.dispatch import Outcome
from tests.django.testapp import consumers
from tests.django.testapp.counting_sessions import Counts

pytestmark = pytest.mark.django_db(transaction=True)

COUNT = [route(["websocket.connect", "websocket.receive"], consumers.count)]


def texts(t: ConsumerTester, reply: str | None = None) -> list[Any]:
    return [m.get("text") for m in t.replies(reply)]


def test_each_connection_has_its_own_channel_session() -> None:
    with ConsumerTester(COUNT) as t:
        other = t.new_reply_channel()
        t.send("websocket.receive", {"text": "a"})
        t.send("websocket.receive", {"text": "b"})
        t.send("websocket.receive", {"text": "a"}, reply=other)
        assert texts(t) == ["1", "2"]
        assert texts(t, other) == ["1"]
        assert session_for_reply_channel(t.reply_channel)["n"] == 2  # saved in the database


def test_no_session_read_per_message_and_no_write_without_a_change(
    counted_sessions: Counts,
) -> None:
    with ConsumerTester(COUNT) as t:
        t.send("websocket.connect", {"order": 0})  # a new connection: nothing to read
        for order in range(1, 11):
            t.send("websocket.receive", {"order": order, "text": "x"})
        assert counted_sessions.loads == 0
        assert counted_sessions.saves == 11  # one per message that changed it
        for order in range(11, 21):
            t.send("websocket.receive", {"order": order, "text": "peek"})
        assert counted_sessions.saves == 11
        assert counted_sessions.loads == 0
        assert texts(t)[-1] == "11"


def test_after_the_cache_dropped_a_connection_its_session_is_read_back(
    counted_sessions: Counts,
) -> None:
    with ConsumerTester(COUNT) as t:
        t.send("websocket.receive", {"text": "x"})
        t.send("websocket.receive", {"text": "x"})
        t.evict()
        assert t.reply_channel not in connection_state
        t.send("websocket.receive", {"text": "x"})
        assert texts(t) == ["1", "2", "3"]
        assert counted_sessions.loads == 2  # the first message (no order) and after eviction


def test_connections_without_affinity_read_their_session_each_time(
    counted_sessions: Counts,
) -> None:
    with ConsumerTester(COUNT) as t:
        for _ in range(3):
            t.send("websocket.receive", {"text": "x"}, reply="mail.reply.abc")
        assert texts(t, "mail.reply.abc") == ["1", "2", "3"]
        assert counted_sessions.loads == 3
        assert "mail.reply.abc" not in connection_state


def test_a_consumer_of_a_message_without_reply_channel_fails_clearly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with ConsumerTester(COUNT) as t:
        assert t.send("websocket.receive", {"text": "x"}, reply=False) is Outcome.ERROR
    assert "@channel_session needs a message with a reply_channel" in caplog.text


def test_decorated_class_based_chat_consumer() -> None:
    routing = [route_class(consumers.RoomChat, path=r"^/chat/(?P<room>\w+)/$")]
    with ConsumerTester(routing) as t:
        t.send("websocket.connect", {"path": "/chat/lobby/", "user": "ann", "order": 0})
        t.send("websocket.receive", {"path": "/chat/lobby/", "text": "hi", "user": "x"})
        assert t.replies() == [{"type": "websocket.accept"}, {"text": "<ann> hi"}]


def test_decorated_handler_method() -> None:
    with ConsumerTester([route_class(consumers.Methods)]) as t:
        t.send("websocket.receive", {"text": "a"})
        t.send("websocket.receive", {"text": "b"})
        assert [m["text"] for m in t.replies()] == ["a", "a,b"]


def test_decorated_async_consumers() -> None:
    routing = [
        route("websocket.receive", consumers.acount),
        route_class(consumers.AsyncCounter),
    ]
    with ConsumerTester(routing) as t:
        t.send("websocket.receive", {"text": "x"})
        t.send("websocket.receive", {"text": "x"})
        other = t.new_reply_channel()
        t.send("async.count", {}, reply=other)
        t.send("async.count", {}, reply=other)
        assert texts(t) == ["1", "2"]
        assert texts(t, other) == ["1", "2"]


def test_enforce_ordering_never_stalls(caplog: pytest.LogCaptureFixture) -> None:
    routing = [
        route("websocket.receive", consumers.ordered),
        route("websocket.connect", consumers.slightly_ordered),
    ]
    caplog.set_level(logging.WARNING, "telephonist.django.sessions")
    with ConsumerTester(routing) as t:
        assert t.send("websocket.connect", {"order": 0}) is Outcome.CONSUMED
        assert t.send("websocket.receive", {"order": 1}) is Outcome.CONSUMED
        # Order 2 was lost: Channels 1 would wait for it forever.
        assert t.send("websocket.receive", {"order": 3}) is Outcome.CONSUMED
        assert t.send("websocket.receive", {"order": 4}) is Outcome.CONSUMED
        assert t.send("websocket.receive", {}) is Outcome.CONSUMED  # no order at all
        assert texts(t) == ["ok", "order 1", "order 3", "order 4", "order None"]
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1
    assert "event 3 of" in warnings[0]
    assert "where 2 was expected" in warnings[0]


def _cookie(key: str) -> list[list[bytes]]:
    return [[b"host", b"example.com"], [b"cookie", f"a=b; sessionid={key}".encode()]]


def test_http_session_comes_from_the_handshake_cookie() -> None:
    browser = SessionStore()
    browser["color"] = "blue"
    browser.save()
    routing = [route(["websocket.connect", "websocket.receive"], consumers.whoami_cookie)]
    with ConsumerTester(routing) as t:
        anonymous = t.new_reply_channel()
        t.send("websocket.connect", {"headers": _cookie(browser.session_key), "order": 0})
        t.send("websocket.receive", {"text": "again", "order": 1})  # no headers here
        t.send("websocket.connect", {"headers": [[b"host", b"x"]], "order": 0}, reply=anonymous)
        assert texts(t) == ["blue", "blue"]
        assert texts(t, anonymous) == ["none"]


def _logged_in_cookie(username: str) -> list[list[bytes]]:
    user = get_user_model().objects.create_user(username)
    client = Client()
    client.force_login(user)
    return _cookie(client.cookies["sessionid"].value)


def test_users_from_the_browser_session_and_the_channel_session() -> None:
    headers = _logged_in_cookie("ann")
    get_user_model().objects.create_user("bob")
    routing = [
        route("websocket.connect", consumers.connect_user),
        route("websocket.receive", consumers.channel_user),
        route("http.user", consumers.http_user),
    ]
    with ConsumerTester(routing) as t:
        t.send("websocket.connect", {"headers": headers, "order": 0})
        assert t.replies() == [{"type": "websocket.accept"}]
        t.send("websocket.receive", {"text": "who", "order": 1})
        t.evict()  # even read back from the database, the login is the connection's
        t.send("websocket.receive", {"text": "who"})
        t.send("websocket.receive", {"text": "logout"})
        t.send("websocket.receive", {"text": "who"})
        t.send("websocket.receive", {"text": "login bob"})
        t.send("websocket.receive", {"text": "who"})
        assert texts(t) == ["ann", "ann", "anonymous", "anonymous", "bob", "bob"]
        t.send("http.user", {"headers": headers})
        t.send("http.user", {"headers": [[b"cookie", b"sessionid=nonsense"]]})
        assert texts(t) == ["ann", "anonymous"]

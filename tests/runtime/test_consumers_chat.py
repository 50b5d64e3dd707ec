"""ChatConsumer: one subclass answers events shaped like WebSocket, IRC, email and Slack."""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import EntryPoint
from typing import Any

import pytest

from telephonist.consumers import (
    AsyncChatConsumer,
    ChatConsumer,
    ChatProtocol,
    Message,
    register_chat_protocol,
    room_group,
    unregister_chat_protocol,
)
from telephonist.consumers import chat_registry as registry
from telephonist.core.names import require_valid_group_name
from telephonist.routing import Router, route, route_class
from telephonist.testing import AsyncConsumerTester, ConsumerTester
from telephonist.worker.dispatch import Outcome

# Events as each interface emits them: the common chat keys plus the protocol's own.
EVENTS: dict[str, tuple[str, dict[str, Any]]] = {
    "websocket": (
        "websocket.receive",
        {"type": "websocket.receive", "text": "hello", "user": "ann", "room": "lobby",
         "path": "/chat/lobby/", "order": 1},
    ),
    "irc": (
        "irc-client.receive",
        {"type": "irc-client.receive", "kind": "message", "text": "hello", "user": "ann",
         "room": "#lobby", "target": "#lobby", "private": False, "network": "libera",
         "nick": "ann", "ident": "~a", "host": "h", "order": 3},
    ),
    "email": (
        "email.receive",
        {"type": "email.receive", "text": "hello", "user": "ann@example.org",
         "room": "lobby@chat.example.org", "subject": "hi", "message_id": "<1@x>"},
    ),
    "slack": (
        "slack.message",
        {"type": "slack.message", "text": "hello", "user": "U123", "room": "C456",
         "ts": "1.2", "channel_type": "channel"},
    ),
}  # fmt: skip


class Echo(ChatConsumer):
    def on_chat(self, text: str, user: str, room: str) -> None:
        self.reply(f"{user} in {room}: {text}")

    def on_join(self, user: str, room: str) -> None:
        self.say(room, f"{user} joined")

    def on_leave(self, user: str, room: str) -> None:
        self.say(room, f"{user} left")


class AsyncEcho(AsyncChatConsumer):
    async def on_chat(self, text: str, user: str, room: str) -> None:
        await self.reply(f"{user} in {room}: {text}")
        await self.say(room, {"text": "to the room", "format": "plain"})


def test_chat_consumer_is_routed_on_every_chat_protocol() -> None:
    channels = Router([route_class(Echo)]).channels
    assert {
        "websocket.connect",
        "websocket.receive",
        "websocket.disconnect",
        "irc-client.receive",
        "irc-client.join",
        "irc-client.part",
        "email.receive",
        "slack.message",
    } <= channels


@pytest.mark.parametrize("protocol", sorted(EVENTS))
def test_one_subclass_answers_every_protocol(protocol: str) -> None:
    channel, event = EVENTS[protocol]
    with ConsumerTester([route_class(Echo)]) as t:
        assert t.send(channel, event) is Outcome.CONSUMED
        assert t.replies() == [{"text": f"{event['user']} in {event['room']}: hello"}]


@pytest.mark.parametrize("protocol", sorted(EVENTS))
async def test_async_subclass_answers_every_protocol(protocol: str) -> None:
    channel, event = EVENTS[protocol]
    async with AsyncConsumerTester([route_class(AsyncEcho)]) as t:
        assert await t.send(channel, event) is Outcome.CONSUMED
        expected = [{"text": f"{event['user']} in {event['room']}: hello"}]
        if protocol != "email":  # a mail's reply channel joins no room (security.md)
            expected.append({"text": "to the room", "format": "plain"})  # joined by speaking
        assert await t.replies() == expected


def test_a_room_spans_protocols() -> None:
    with ConsumerTester([route_class(Echo)]) as t:
        browser, irc = t.new_reply_channel(), t.new_reply_channel()
        t.send("websocket.connect", {"user": "ann", "room": "lobby"}, reply=browser)
        assert t.replies(browser) == [{"type": "websocket.accept"}, {"text": "ann joined"}]
        t.send("irc-client.join", {"user": "bob", "room": "lobby"}, reply=irc)
        assert t.replies(browser) == [{"text": "bob joined"}]
        assert t.replies(irc) == [{"text": "bob joined"}]
        assert sorted(t.group_channels(room_group("lobby"))) == sorted([browser, irc])
        t.send(
            "websocket.disconnect", {"user": "ann", "room": "lobby", "code": 1000}, reply=browser
        )
        assert t.replies(irc) == [{"text": "ann left"}]
        assert t.replies(browser) == []
        assert t.group_channels(room_group("lobby")) == [irc]


def test_irc_users_coming_and_going_do_not_move_the_rooms_membership() -> None:
    """On IRC one reply channel serves the whole room: only the bot's own join/part
    (``self``) changes membership; other users' are events for the hooks."""
    with ConsumerTester([route_class(Echo)]) as t:
        irc = t.new_reply_channel()
        t.send("irc-client.join", {"user": "bot", "room": "#lobby", "self": True}, reply=irc)
        assert t.group_channels(room_group("#lobby")) == [irc]
        t.send("irc-client.part", {"user": "bob", "room": "#lobby", "self": False}, reply=irc)
        assert t.group_channels(room_group("#lobby")) == [irc], "bob left, not the room"
        assert t.replies(irc) == [{"text": "bot joined"}, {"text": "bob left"}]
        t.send("irc-client.part", {"user": "bot", "room": "#lobby", "self": True}, reply=irc)
        assert t.group_channels(room_group("#lobby")) == []


def test_room_from_the_route_wins_over_the_event() -> None:
    path = r"^/chat/(?P<room>\w+)/$"
    routing = [route(["websocket.connect", "websocket.receive"], Echo.as_consumer(), path=path)]
    with ConsumerTester(routing) as t:
        t.send_and_consume("websocket.connect", {"path": "/chat/kitchen/"})
        assert t.replies() == [{"type": "websocket.accept"}, {"text": " joined"}]
        # What the WebSocket interface sends: its raw path as the room.
        event = {"text": "hi", "user": "1.2.3.4:5", "room": "/chat/kitchen/"}
        t.send_and_consume("websocket.receive", {**event, "path": "/chat/kitchen/"})
        t.assert_reply(text="1.2.3.4:5 in kitchen: hi")
        assert t.group_channels("chat.kitchen") == [t.reply_channel]


def test_binary_frames_are_not_chat() -> None:
    with ConsumerTester([route_class(Echo)]) as t:
        assert t.send("websocket.receive", {"bytes": b"\x00", "room": "r"}) is Outcome.CONSUMED
        t.assert_no_reply()


class Picky(ChatConsumer):
    def accept_join(self, user: str, room: str) -> bool:
        return user != "mallory"

    def on_chat(self, text: str, user: str, room: str) -> None: ...


def test_a_refused_join_closes_the_websocket_with_403() -> None:
    with ConsumerTester([route_class(Picky)]) as t:
        assert t.send("websocket.connect", {"user": "mallory", "room": "r"}) is Outcome.DENIED
        assert t.replies() == [{"type": "websocket.close", "code": 403}]
        assert t.group_channels("chat.r") == []


class WebOnly(Echo):
    chat_channels = ("websocket.receive",)
    join_channels = ("websocket.connect",)
    leave_channels = ()
    extra_chat_channels = ("linechat.line",)


def test_channels_can_be_narrowed_and_extended() -> None:
    assert WebOnly.channel_names() == {"websocket.receive", "websocket.connect", "linechat.line"}
    with ConsumerTester([route_class(WebOnly)]) as t:
        t.send_and_consume("linechat.line", {"text": "x", "user": "u", "room": "r"})
        t.assert_reply(text="u in r: x")


@pytest.fixture
def linechat() -> Iterator[ChatProtocol]:
    protocol = ChatProtocol(
        "linechat-test",
        message_channels=("linechat.line",),
        join_channels=("linechat.hello",),
        join_answer=({"line": "welcome"},),
    )
    register_chat_protocol(protocol)
    yield protocol
    unregister_chat_protocol("linechat-test")


def test_a_third_party_protocol_registers_its_channels(linechat: ChatProtocol) -> None:
    assert {"linechat.line", "linechat.hello"} <= Echo.channel_names()
    with ConsumerTester([route_class(Echo)]) as t:
        t.send_and_consume("linechat.hello", {"user": "zed", "room": "r"})
        assert t.replies() == [{"line": "welcome"}, {"text": "zed joined"}]


PAGER = ChatProtocol("pager", message_channels=("pager.page",))


def test_chat_protocols_from_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    points = [
        EntryPoint("pager", "tests.runtime.test_consumers_chat:PAGER", "telephonist.chat"),
        EntryPoint("broken", "tests.runtime.no_such_module:X", "telephonist.chat"),
    ]
    monkeypatch.setattr(registry, "entry_points", lambda group: points)
    monkeypatch.setattr(registry, "_entry_points_loaded", False)
    try:
        assert "pager.page" in Echo.channel_names()
    finally:
        unregister_chat_protocol("pager")


def test_room_groups_are_valid_and_distinct() -> None:
    assert room_group("lobby") == "chat.lobby"
    names = {room_group(r) for r in ("#a", "&a", "_a", "a@b.org", "x" * 300, "ü")}
    assert len(names) == 6
    for name in names:
        assert require_valid_group_name(name) == name
    assert room_group("#python").startswith("chat._python.")


def test_reply_without_a_reply_channel_is_an_error(caplog: pytest.LogCaptureFixture) -> None:
    with ConsumerTester([route_class(Echo)]) as t:
        event = {"text": "hi", "user": "u", "room": "r"}
        assert t.send("email.receive", event, reply=False) is Outcome.ERROR
    assert "has no reply_channel" in caplog.text


def test_message_passed_to_hooks_is_the_event(linechat: ChatProtocol) -> None:
    seen: list[Message] = []

    class Spy(ChatConsumer):
        def on_chat(self, text: str, user: str, room: str) -> None:
            seen.append(self.message)

    with ConsumerTester([route_class(Spy)]) as t:
        t.send("slack.message", EVENTS["slack"][1])
    assert seen[0]["ts"] == "1.2"


def test_a_private_conversation_is_never_the_room_of_the_same_name() -> None:
    """IRC nick ``lobby`` talking to the bot in private is not in room ``lobby``."""
    with ConsumerTester([route_class(Echo)]) as t:
        browser, private = t.new_reply_channel(), t.new_reply_channel()
        t.send("websocket.connect", {"user": "ann", "room": "lobby"}, reply=browser)
        dm = {"kind": "message", "text": "hi", "user": "lobby", "room": "lobby",
              "room_id": "libera/lobby", "is_direct": True}  # fmt: skip
        t.send("irc-client.receive", dm, reply=private)
        assert t.group_channels(room_group("lobby")) == [browser]
        assert t.replies(private) == [{"text": "lobby in lobby: hi"}]
        t.replies(browser)
        t.send("irc-client.join", {"user": "bob", "room": "lobby", "self": False}, reply=browser)
        assert t.replies(private) == []  # the room's lines never reach the private one


def test_kinds_reach_their_hooks_and_own_echoes_none() -> None:
    seen: list[tuple[str, str]] = []

    class Hooks(ChatConsumer):
        def on_chat(self, text: str, user: str, room: str) -> None:
            seen.append((self.event["kind"], text))

        def on_reaction(self, event: Any) -> None:
            seen.append(("reaction", event["emoji"]))

        def on_topic(self, event: Any) -> None:
            seen.append(("topic", event["text"]))

    with ConsumerTester([route_class(Hooks)]) as t:
        base = {"user": "bob", "room": "#r"}
        t.send("irc-client.receive", {**base, "kind": "action", "text": "waves"})
        t.send("irc-client.receive", {**base, "kind": "reaction", "text": "👍", "emoji": "👍"})
        t.send("irc-client.topic", {**base, "kind": "topic", "text": "news"})
        t.send("irc-client.receive", {**base, "kind": "message", "text": "mine", "is_self": True})
    assert seen == [("action", "waves"), ("reaction", "👍"), ("topic", "news")]

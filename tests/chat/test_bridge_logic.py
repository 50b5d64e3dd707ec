"""ChatBridge's relaying logic, driven with events shaped as the interfaces send them
(``ConsumerTester``: the real Dispatcher, no sockets). The real-peer bridge tests are in
``test_bridge_peers.py``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from telephonist.chat import make_event
from telephonist.consumers import ChatBridge, Links
from telephonist.routing import route_class
from telephonist.testing import ConsumerTester

ROOM = r"^/chat/(?P<room>[-\w]{1,50})/$"
SUB = "telephonist.chat.v2"


class Lobby(ChatBridge):
    links = {
        "lobby": [
            {"protocol": "irc", "room": "#lobby", "network": "local"},
            {"protocol": "email", "room": "room-lobby@chat.test", "notify": "team@example.org"},
        ]
    }
    open_rooms = False


@pytest.fixture
def t() -> Iterator[ConsumerTester]:
    Lobby._setup.pop(Lobby, None)  # a fresh store for each test
    with ConsumerTester([route_class(Lobby, path=ROOM), route_class(Lobby)]) as tester:
        yield tester


def irc(kind: Any, user: str, text: str = "", **keys: Any) -> dict[str, Any]:
    event = make_event("irc", kind, text=text, room="#lobby", user=user,
                       room_id="local/#lobby", user_id=f"local/{user}")  # fmt: skip
    channel = {"join": "join", "leave": "part"}.get(kind, "receive")
    return {**event, "type": f"irc-client.{channel}", "network": "local", **keys}


def web(t: ConsumerTester, name: str) -> str:
    channel = t.new_reply_channel()
    connect = {"path": "/chat/lobby/", "query_string": f"name={name}".encode(),
               "subprotocols": [SUB]}  # fmt: skip
    t.send("websocket.connect", connect, reply=channel)
    return channel


def say(t: ConsumerTester, channel: str, text: str, **keys: Any) -> None:
    event = make_event("websocket", keys.pop("kind", "message"), text=text,
                       room="/chat/lobby/", user="127.0.0.1:1", user_id=channel[-6:],
                       message_id=keys.pop("message_id", None))  # fmt: skip
    t.send("websocket.receive", {**event, **keys, "path": "/chat/lobby/"}, reply=channel)


def test_a_room_across_web_irc_and_mail(t: ConsumerTester) -> None:
    bot = t.new_reply_channel()
    t.send("irc-client.join", irc("join", "bridgebot", is_self=True, members=["bridgebot", "bob"],
                                  topic="welcome"), reply=bot)  # fmt: skip
    ann = web(t, "ann")
    accepted, welcome, members = t.replies(ann)
    assert accepted == {"type": "websocket.accept", "subprotocol": SUB}
    assert welcome["type"] == "chat.state"
    assert welcome["topic"] == "welcome"
    assert welcome["history"] == []
    assert [(m["user"], m["protocol"]) for m in welcome["members"]] == [
        ("ann", "websocket"),
        ("bob", "irc"),
    ]
    assert members["change"] == {"user": "ann", "protocol": "websocket", "joined": True}

    say(t, ann, "hi\nall", message_id="w1")
    to_irc = t.replies(bot)
    assert to_irc == [
        {"kind": "message", "text": "hi\nall", "user": "ann", "user_id": ann[-6:],
         "protocol": "websocket", "timestamp": to_irc[0]["timestamp"]}
    ]  # fmt: skip
    (own,) = t.replies(ann)
    assert (own["message_id"], own["user"]) == ("w1", "ann")
    mail = t.get_next_message("email.send")
    assert mail is not None
    assert mail["to"] == ["team@example.org"]
    assert mail["from_address"] == "room-lobby@chat.test"
    assert mail["text"] == "[web] <ann> hi\n[web] <ann> all"

    t.send("irc-client.receive", irc("message", "bob", "hello ann", message_id="m1"), reply=bot)
    assert t.replies(bot) == []  # never back where it came from
    (from_irc,) = t.replies(ann)
    assert (from_irc["message_id"], from_irc["protocol"], from_irc["user"]) == (
        "irc:m1",
        "irc",
        "bob",
    )
    mail = t.get_next_message("email.send")
    assert mail is not None
    assert mail["text"] == "[irc] <bob> hello ann"

    mail_in = make_event("email", "message", text="from the inbox", room="room-lobby@chat.test",
                         user="Cy", user_id="cy@example.org", message_id="<c1@x>")  # fmt: skip
    box = t.new_reply_channel()
    t.send("email.receive", {**mail_in, "type": "email.receive"}, reply=box)
    assert t.replies(box) == []
    assert t.group_channels(Links.group("lobby", 2)) == []  # mail never joins
    assert [r["text"] for r in t.replies(bot)] == ["from the inbox"]
    assert [r["user"] for r in t.replies(ann)] == ["Cy"]
    assert t.get_next_message("email.send") is None  # not mailed back to itself


def test_threads_reactions_edits_and_deletes_map_or_read(t: ConsumerTester) -> None:
    bot = t.new_reply_channel()
    t.send("irc-client.join", irc("join", "bridgebot", is_self=True), reply=bot)
    ann = web(t, "ann")
    t.replies(ann)
    t.send("irc-client.receive", irc("message", "bob", "first", message_id="m1"), reply=bot)
    say(t, ann, "reply to bob", message_id="w1", reply_to="irc:m1")
    (to_irc,) = t.replies(bot)
    assert to_irc["reply_to"] == "m1"  # IRC knows its own message's id
    t.replies(ann)
    t.send("irc-client.receive", irc("message", "bob", "answer", reply_to="zzz"), reply=bot)
    t.replies(ann)
    say(t, ann, "on ann's own", message_id="w2", reply_to="w1")
    (quoted,) = t.replies(bot)
    assert quoted["text"] == "(↪ ann: “reply to bob”) on ann's own"  # IRC never saw w1's id
    (web_copy,) = t.replies(ann)
    assert (web_copy["reply_to"], web_copy["thread_id"]) == ("w1", "irc:m1")

    say(t, ann, "👍", kind="reaction", emoji="👍", reply_to="irc:m1")
    (react,) = t.replies(bot)
    assert (react["kind"], react["emoji"], react["reply_to"]) == ("reaction", "👍", "m1")
    assert react["fallback"] == "reacted 👍 to bob: “first”"
    say(t, ann, "fixed", kind="edit", message_id="w1")
    (edit,) = t.replies(bot)
    assert (edit["kind"], edit["text"]) == ("action", "edited “reply to bob” → fixed")
    web_edit = t.replies(ann)[-1]
    assert (web_edit["kind"], web_edit["message_id"], web_edit["text"]) == ("edit", "w1", "fixed")
    t.send("irc-client.receive", irc("reaction", "bob", "🎉", reply_to="m1", emoji="🎉"), reply=bot)
    web_react = t.replies(ann)[-1]
    assert (web_react["kind"], web_react["reply_to"], web_react["emoji"]) == ("reaction", "irc:m1",
                                                                              "🎉")  # fmt: skip
    say(t, ann, "", kind="delete", message_id="w2")
    assert t.replies(bot)[-1]["text"] == "deleted “on ann's own”"

    dave = web(t, "dave")
    history = t.replies(dave)[1]["history"]
    assert [h["message_id"] for h in history] == ["irc:m1", "w1", history[2]["message_id"], "w2"]
    assert history[0]["reactions"] == {"👍": ["ann"], "🎉": ["bob"]}
    assert (history[1]["text"], history[1]["edited"]) == ("fixed", True)
    assert history[3]["deleted"] is True
    # Joining again (a reload) gets the same history in one frame: nothing to repeat.
    assert t.replies(web(t, "dave"))[1]["history"] == history


def test_private_messages_are_answered_and_never_relayed(t: ConsumerTester) -> None:
    bot, private = t.new_reply_channel(), t.new_reply_channel()
    t.send("irc-client.join", irc("join", "bridgebot", is_self=True), reply=bot)
    ann = web(t, "ann")
    t.replies(ann)
    dm = make_event("irc", "message", text="psst", room="bob", user="bob",
                    room_id="local/bob", is_direct=True)  # fmt: skip
    t.send("irc-client.receive", {**dm, "type": "irc-client.receive", "network": "local"},
           reply=private)  # fmt: skip
    (answer,) = t.replies(private)
    assert answer["private"] is True
    assert answer["to"] == "bob"
    assert "private messages are not relayed" in answer["text"]
    assert "#lobby (irc)" in answer["text"]
    assert t.replies(ann) == []
    assert t.replies(bot) == []


def test_members_follow_joins_and_leaves(t: ConsumerTester) -> None:
    bot = t.new_reply_channel()
    t.send("irc-client.join", irc("join", "bridgebot", is_self=True, members=["bridgebot"]),
           reply=bot)  # fmt: skip
    ann = web(t, "ann")
    t.replies(ann)
    t.send("irc-client.join", irc("join", "eve"), reply=bot)
    state = t.replies(ann)[-1]
    assert [m["user"] for m in state["members"]] == ["ann", "eve"]
    assert state["change"] == {"user": "eve", "protocol": "irc", "joined": True}
    bob = web(t, "bob")
    t.send("websocket.disconnect", {"path": "/chat/lobby/", "code": 1001}, reply=bob)
    last = t.replies(ann)[-1]
    assert last["change"] == {"user": "bob", "protocol": "websocket", "joined": False}
    assert [m["user"] for m in last["members"]] == ["ann", "eve"]
    t.send("irc-client.part", irc("leave", "eve"), reply=bot)
    assert [m["user"] for m in t.replies(ann)[-1]["members"]] == ["ann"]


def test_rooms_not_configured_are_closed_unless_open_rooms() -> None:
    class Open(ChatBridge):
        links = {}

    with ConsumerTester([route_class(Open, path=ROOM), route_class(Open)]) as t:
        a, b = t.new_reply_channel(), t.new_reply_channel()
        for channel, name in ((a, "ann"), (b, "bob")):
            connect = {"path": "/chat/kitchen/", "query_string": f"name={name}".encode()}
            t.send("websocket.connect", connect, reply=channel)
        t.replies(a)
        t.send("websocket.receive", {"path": "/chat/kitchen/", "text": "hi"}, reply=b)
        assert [r["text"] for r in t.replies(a) if "text" in r] == ["hi"]


def test_only_the_author_edits_or_deletes(t: ConsumerTester) -> None:
    ann, bob = web(t, "ann"), web(t, "bob")
    say(t, ann, "mine", message_id="w1")
    t.replies(ann)
    t.replies(bob)
    say(t, bob, "not yours", kind="edit", message_id="w1")
    say(t, bob, "", kind="delete", message_id="w1")
    assert t.replies(ann) == []
    say(t, ann, "still mine", kind="edit", message_id="w1")
    assert t.replies(bob)[-1]["text"] == "still mine"


class Everywhere(ChatBridge):
    links = {"*": ["email:room-{room}@chat.test", "irc:#{room}"], "lobby": ["irc:#main"]}


def test_patterns_give_every_room_its_mailbox_and_channel() -> None:
    Everywhere._setup.pop(Everywhere, None)
    with ConsumerTester([route_class(Everywhere, path=ROOM), route_class(Everywhere)]) as t:
        kitchen, irc = t.new_reply_channel(), t.new_reply_channel()
        connect = {"path": "/chat/kitchen/", "query_string": b"name=ann"}
        t.send("websocket.connect", connect, reply=kitchen)
        t.replies(kitchen)
        mail = make_event("email", "message", text="lunch?", room="room-kitchen@chat.test",
                          user="Cy", user_id="cy@x.org")  # fmt: skip
        t.send("email.receive", {**mail, "type": "email.receive"}, reply=t.new_reply_channel())
        assert [r["text"] for r in t.replies(kitchen)] == ["lunch?"]
        event = make_event("irc", "join", room="#kitchen", user="bot", is_self=True)
        t.send("irc-client.join", {**event, "type": "irc-client.join"}, reply=irc)
        t.send("websocket.receive", {"path": "/chat/kitchen/", "text": "soup"}, reply=kitchen)
        assert [r["text"] for r in t.replies(irc)] == ["soup"]
        main = make_event("irc", "message", room="#main", user="bo", text="hi")
        t.send("irc-client.receive", {**main, "type": "irc-client.receive"}, reply=irc)
        assert t.replies(kitchen)[-1]["text"] == "soup"  # #main is the lobby's, not ours
        assert t.send("websocket.connect", {"path": "/elsewhere/"}).name == "DENIED"


def test_a_slack_channel_is_one_more_entry() -> None:
    """Shaped as the Slack interface sends ``slack.message`` today (first-contract keys
    plus its own): the bridge relays it with nothing Slack-specific but the entry."""

    class WithSlack(ChatBridge):
        links = {"lobby": ["irc:#lobby", {"protocol": "slack", "room": "general",
                                          "network": "T1"}]}  # fmt: skip

    WithSlack._setup.pop(WithSlack, None)
    with ConsumerTester([route_class(WithSlack, path=ROOM), route_class(WithSlack)]) as t:
        slack, irc = t.new_reply_channel(), t.new_reply_channel()
        t.send("irc-client.join", irc_join(), reply=irc)
        ann = web(t, "ann")
        t.replies(ann)
        event = {"type": "slack.message", "team": "T1", "text": "from slack", "user": "Sam",
                 "user_id": "U1", "room": "general", "channel": "C1", "ts": "1.2",
                 "thread_ts": None}  # fmt: skip
        t.send("slack.message", event, reply=slack)
        assert [(r["user"], r["protocol"]) for r in t.replies(irc)] == [("Sam", "slack")]
        seen = t.replies(ann)
        assert [r["text"] for r in seen if "text" in r] == ["from slack"]
        # Whoever speaks in the Slack channel is one of the room's members.
        state = next(r for r in seen if r.get("type") == "chat.state")
        assert {"user": "Sam", "protocol": "slack", "endpoint": 2} in state["members"]
        assert t.replies(slack) == []
        say(t, ann, "to slack too", message_id="w9")
        assert [(r["text"], r["protocol"]) for r in t.replies(slack)] == [
            ("to slack too", "websocket")
        ]


def irc_join() -> dict[str, Any]:
    return irc("join", "bridgebot", is_self=True)

"""The sans-IO parts: frames, text, mapping and reply actions, with no sockets."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from telephonist.interfaces.slack import spec
from telephonist.interfaces.slack.actions import (
    Ack,
    Declined,
    Rejected,
    Respond,
    WebCall,
    plan_reply,
)
from telephonist.interfaces.slack.envelopes import (
    Disconnect,
    Hello,
    Inbound,
    Malformed,
    ack_frame,
    from_http,
    parse_frame,
)
from telephonist.interfaces.slack.mapping import Bot, Mapped, Names, Skip, Target, map_inbound
from telephonist.interfaces.slack.text import mentioned_ids, render

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)


@given(st.text(max_size=200) | st.builds(json.dumps, json_values))
def test_parse_frame_is_total(text: str) -> None:
    assert isinstance(parse_frame(text), Hello | Disconnect | Inbound | Malformed)


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "type",
                "envelope_id",
                "payload",
                "retry_attempt",
                "retry_reason",
                "accepts_response_payload",
                "reason",
                "event_id",
                "event",
            ]
        ),
        json_values,
    )
)
def test_parse_frame_is_total_on_near_envelopes(frame: dict[str, Any]) -> None:
    parsed = parse_frame(json.dumps(frame))
    if isinstance(parsed, Inbound):
        assert parsed.envelope_id == frame["envelope_id"]
        assert parsed.dedup_key


def test_envelope_fields() -> None:
    frame = {
        "envelope_id": "e1",
        "type": "events_api",
        "accepts_response_payload": False,
        "retry_attempt": 2,
        "retry_reason": "timeout",
        "payload": {"type": "event_callback", "event_id": "Ev1", "event": {"type": "x"}},
    }
    parsed = parse_frame(json.dumps(frame))
    assert isinstance(parsed, Inbound)
    assert (parsed.kind, parsed.dedup_key, parsed.retry_attempt, parsed.retry_reason) == (
        "event",
        "event.Ev1",
        2,
        "timeout",
    )
    command = parse_frame(
        json.dumps(
            {
                **frame,
                "type": "slash_commands",
                "payload": {"command": "/x"},
                "accepts_response_payload": True,
            }
        )
    )
    assert isinstance(command, Inbound)
    assert (command.kind, command.dedup_key, command.accepts_ack_payload) == (
        "command",
        "envelope.e1",
        True,
    )
    assert parse_frame('{"type": "disconnect", "reason": "warning"}') == Disconnect("warning")
    hello = parse_frame(
        '{"type": "hello", "num_connections": 2, "connection_info": {"app_id": "A1"}}'
    )
    assert hello == Hello(2, "A1")
    assert json.loads(ack_frame("e1", {"text": "hi"})) == {
        "envelope_id": "e1",
        "payload": {"text": "hi"},
    }
    assert json.loads(ack_frame("e1")) == {"envelope_id": "e1"}


def test_http_bodies() -> None:
    event = from_http(
        "application/json; charset=utf-8",
        b'{"type": "event_callback", "event_id": "Ev9", "event": {}}',
        "2",
        "http_timeout",
    )
    assert isinstance(event, Inbound)
    assert (event.dedup_key, event.retry_attempt, event.retry_reason) == (
        "event.Ev9",
        2,
        "http_timeout",
    )
    command = from_http("application/x-www-form-urlencoded", b"command=%2Fgo&text=a+b", None, None)
    assert isinstance(command, Inbound)
    assert command.payload["text"] == "a b"
    assert command.dedup_key is None  # Slack does not retry commands over HTTP
    interactive = from_http(
        "application/x-www-form-urlencoded",
        b"payload=%7B%22type%22%3A%22shortcut%22%7D",
        None,
        None,
    )
    assert isinstance(interactive, Inbound)
    assert interactive.payload == {"type": "shortcut"}
    for content_type, body in [
        ("application/json", b"[1]"),
        ("application/json", b"\xff"),
        ("text/plain", b"x"),
        ("application/x-www-form-urlencoded", b"a=1"),
        ("application/json", b'{"type": "event_callback"}'),
    ]:
        assert isinstance(from_http(content_type, body, None, None), Malformed)


@given(st.text(max_size=300))
def test_render_is_total_and_unescapes(text: str) -> None:
    rendered = render(text, {"U1": "Alice"}, {"C1": "general"})
    assert isinstance(rendered, str)
    if "<" not in text and ">" not in text and "&" not in text:
        assert rendered == text


@pytest.mark.parametrize(
    ("raw", "readable"),
    [
        ("hi <@U1>", "hi @Alice"),
        ("hi <@U2>", "hi @U2"),
        ("<@U1|al> in <#C1>", "@al in #general"),
        ("<#C2|random>", "#random"),
        ("<!here> <!channel> <!everyone>", "@here @channel @everyone"),
        ("<!subteam^S1|@ops> now", "@ops now"),
        ("<!date^1392734382^{date}|Feb 18, 2014>", "Feb 18, 2014"),
        (
            "see <https://x.org|docs> and <https://y.org>",
            "see docs (https://x.org) and https://y.org",
        ),
        ("<mailto:a@b.org|a@b.org>", "a@b.org"),
        ("a &lt;b&gt; &amp;&amp; c", "a <b> && c"),
    ],
)
def test_render(raw: str, readable: str) -> None:
    assert render(raw, {"U1": "Alice"}, {"C1": "general"}) == readable


def test_mentioned_ids() -> None:
    assert mentioned_ids("<@U1> <@U2|x> <#C1> <#C2|y> <!here>") == ({"U1"}, {"C1"})


def inbound(kind: str, payload: dict[str, Any]) -> Inbound:
    return Inbound(kind, payload, "k", "e", kind != "event", 0, "")  # type: ignore[arg-type]


def event(inner: dict[str, Any]) -> Inbound:
    return inbound(
        "event",
        {
            "type": "event_callback",
            "team_id": "T1",
            "event_id": "Ev1",
            "event_time": 1,
            "event": inner,
        },
    )


BOT = Bot("UBOT", "BBOT")
NAMES = Names({"U1": "Alice"}, {"C1": "general"})


def test_map_message_and_filters() -> None:
    msg = {
        "type": "message",
        "user": "U1",
        "channel": "C1",
        "text": "hi",
        "ts": "1.1",
        "channel_type": "channel",
        "thread_ts": "1.0",
    }
    mapped = map_inbound(event(msg), NAMES, BOT, False)
    assert isinstance(mapped, Mapped)
    assert mapped.channel == spec.MESSAGE
    assert (mapped.message["user"], mapped.message["room"]) == ("Alice", "general")
    assert mapped.target == Target("T1", "C1", "1.0", user_id="U1", message_ts="1.1")
    assert map_inbound(event({**msg, "user": "UBOT"}), NAMES, BOT, False) == Skip("ignored_own")
    assert map_inbound(event({**msg, "bot_id": "BBOT"}), NAMES, BOT, True) == Skip("ignored_own")
    assert map_inbound(event({**msg, "bot_id": "B2"}), NAMES, BOT, False) == Skip("ignored_bot")
    assert isinstance(map_inbound(event({**msg, "bot_id": "B2"}), NAMES, BOT, True), Mapped)
    joined = map_inbound(event({**msg, "subtype": "channel_join"}), NAMES, BOT, False)
    assert isinstance(joined, Mapped)  # member_joined_channel says it too: not a chat event
    assert (joined.channel, joined.message["event_type"]) == (spec.EVENT, "message")
    im = map_inbound(event({**msg, "channel": "D9", "channel_type": "im"}), NAMES, BOT, False)
    assert isinstance(im, Mapped)
    assert im.message["room"] == "Alice"  # in a DM the room is the other person


def test_map_reaction_and_other_events() -> None:
    reaction = map_inbound(
        event(
            {
                "type": "reaction_added",
                "user": "U1",
                "reaction": "tada",
                "item": {"type": "message", "channel": "C1", "ts": "5.5"},
                "item_user": "U2",
                "event_ts": "6.6",
            }
        ),
        NAMES,
        BOT,
        False,
    )
    assert isinstance(reaction, Mapped)
    assert reaction.channel == spec.REACTION
    assert (reaction.message["added"], reaction.message["ts"], reaction.message["room"]) == (
        True,
        "5.5",
        "general",
    )
    joined = map_inbound(
        event({"type": "member_joined_channel", "user": "UBOT", "channel": "C1"}), NAMES, BOT, False
    )
    assert isinstance(joined, Mapped)  # not a message: even the bot's own is delivered
    assert (joined.channel, joined.message["kind"], joined.message["is_self"]) == (
        spec.JOIN, "join", True)  # fmt: skip


def test_map_interactions() -> None:
    view = {
        "id": "V1",
        "callback_id": "cb",
        "state": {"values": {"b": {"a": {"value": "x"}}}},
        "private_metadata": "pm",
    }
    submission = map_inbound(
        inbound(
            "interactive",
            {
                "type": "view_submission",
                "team": {"id": "T1"},
                "user": {"id": "U1", "name": "al"},
                "view": view,
                "trigger_id": "t1",
                "response_urls": [{"response_url": "https://r", "channel_id": "C1"}],
            },
        ),
        NAMES,
        None,
        False,
    )
    assert isinstance(submission, Mapped)
    assert submission.channel == spec.VIEW
    assert submission.message["values"] == {"b": {"a": {"value": "x"}}}
    assert submission.target.response_url == "https://r"
    assert submission.target.interaction
    unknown = map_inbound(
        inbound("interactive", {"type": "workflow_step_edit", "team": {"id": "T1"}}),
        NAMES,
        None,
        False,
    )
    assert isinstance(unknown, Mapped)
    assert unknown.channel == spec.EVENT


CHAN = Target("T1", "C1", "1.0", user_id="U1", message_ts="1.1")
COMMAND = Target(
    "T1",
    "C1",
    interaction=True,
    command=True,
    user_id="U1",
    response_url="https://r",
    trigger_id="t1",
)


def test_plan_chat_reply() -> None:
    assert plan_reply({"text": "hi"}, CHAN, False) == WebCall(
        "chat.postMessage", {"channel": "C1", "text": "hi", "thread_ts": "1.0"}, "C1"
    )
    assert plan_reply({"text": "hi"}, COMMAND, True) == Ack({"text": "hi"})
    assert plan_reply({"text": "hi"}, COMMAND, False) == Respond("https://r", {"text": "hi"})
    assert isinstance(plan_reply({"text": ""}, CHAN, False), Rejected)
    assert isinstance(plan_reply({"text": 3}, CHAN, False), Rejected)
    assert isinstance(plan_reply({"text": "x"}, Target("T1", None), False), Rejected)


def test_plan_actions() -> None:
    post = plan_reply(
        {"type": spec.SEND_POST, "channel": "C2", "blocks": [{"type": "divider"}]}, CHAN, False
    )
    assert post == WebCall(
        "chat.postMessage", {"channel": "C2", "blocks": [{"type": "divider"}]}, "C2"
    )
    top = plan_reply({"type": spec.SEND_POST, "text": "x", "thread_ts": None}, CHAN, False)
    assert top == WebCall("chat.postMessage", {"channel": "C1", "text": "x"}, "C1")
    assert plan_reply({"type": spec.SEND_EPHEMERAL, "text": "psst"}, CHAN, False) == WebCall(
        "chat.postEphemeral",
        {"channel": "C1", "user": "U1", "text": "psst", "thread_ts": "1.0"},
        "C1",
    )
    assert plan_reply({"type": spec.SEND_UPDATE, "ts": "2.2", "text": "y"}, CHAN, False) == WebCall(
        "chat.update", {"channel": "C1", "ts": "2.2", "text": "y"}, "C1"
    )
    assert plan_reply({"type": spec.SEND_DELETE, "ts": "2.2"}, CHAN, False) == WebCall(
        "chat.delete", {"channel": "C1", "ts": "2.2"}, "C1"
    )
    assert plan_reply({"type": spec.SEND_REACT, "name": ":+1:"}, CHAN, False) == WebCall(
        "reactions.add", {"channel": "C1", "timestamp": "1.1", "name": "+1"}, "C1"
    )
    assert plan_reply({"type": spec.SEND_UNREACT, "name": "x", "ts": "3"}, CHAN, False) == WebCall(
        "reactions.remove", {"channel": "C1", "timestamp": "3", "name": "x"}, "C1"
    )
    view = {"type": "modal"}
    assert plan_reply({"type": spec.SEND_VIEW_OPEN, "view": view}, COMMAND, False) == WebCall(
        "views.open", {"trigger_id": "t1", "view": view}, None
    )
    assert plan_reply(
        {"type": spec.SEND_VIEW_PUSH, "view": view, "trigger_id": "t2"}, CHAN, False
    ) == WebCall("views.push", {"trigger_id": "t2", "view": view}, None)
    assert plan_reply(
        {"type": spec.SEND_VIEW_UPDATE, "view": view, "external_id": "x"}, CHAN, False
    ) == WebCall("views.update", {"view": view, "external_id": "x"}, None)
    assert plan_reply(
        {"type": spec.SEND_RESPOND, "delete_original": True}, COMMAND, False
    ) == Respond("https://r", {"delete_original": True})
    assert plan_reply({"type": spec.ACK, "response_action": "clear"}, COMMAND, True) == Ack(
        {"response_action": "clear"}
    )
    assert plan_reply({"type": spec.ACK}, COMMAND, False) == Rejected("late_ack")
    for bad in [
        {"type": "slack.message"},
        {"type": spec.SEND_VIEW_OPEN, "view": view},
        {"type": spec.SEND_UPDATE, "text": "no ts"},
        {"type": spec.SEND_REACT, "ts": "1"},
        {"type": spec.SEND_VIEW_OPEN, "view": "json", "trigger_id": "t"},
        {"type": spec.SEND_RESPOND, "text": "no url"},
        {"type": 7},
    ]:
        assert isinstance(plan_reply(bad, CHAN, False), Rejected), bad


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "type",
                "text",
                "blocks",
                "channel",
                "ts",
                "name",
                "view",
                "trigger_id",
                "user",
                "thread_ts",
                "response_url",
            ]
        ),
        json_values,
    )
)
def test_plan_reply_is_total(message: dict[str, Any]) -> None:
    for target in (CHAN, COMMAND, Target("T1", None)):
        for acking in (True, False):
            assert isinstance(
                plan_reply(message, target, acking), WebCall | Respond | Ack | Rejected | Declined
            )

"""The chat contract in code: safe text, event and reply checks, attribution, declines.
Pure functions: no sockets. Property tests for the text policy and the validators."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from telephonist.chat import (
    EVENT_KINDS,
    ChatContractError,
    RateLimitedLog,
    attribution,
    degrade,
    make_event,
    read_event,
    rendered_lines,
    safe_name,
    safe_text,
    validate_event,
    validate_reply,
)
from telephonist.chat.text import _UNSAFE

UNSAFE = "\x00\x01\x02\x03\x1b\x7f\x85\x9b\r\u202a\u202e\u2066\u2069\ufffe\uffff\u2028\u2029"


@given(st.text())
def test_safe_text_is_idempotent_and_leaves_nothing_unsafe(text: str) -> None:
    once = safe_text(text)
    assert safe_text(once) == once
    assert not any(ch in once for ch in UNSAFE)
    once.encode("utf-8")  # no lone surrogates: every encoder accepts it


@given(st.text(), st.integers(min_value=1, max_value=50))
def test_safe_text_limit(text: str, limit: int) -> None:
    cut = safe_text(text, limit)
    assert len(cut) <= limit
    assert safe_text(cut, limit) == cut


@given(st.text())
def test_names_are_one_line(name: str) -> None:
    clean = safe_name(name)
    assert "\n" not in clean
    assert "\t" not in clean
    assert clean == clean.strip()
    assert len(clean) <= 64
    assert safe_name(clean) == clean


PRINTABLE_ASCII = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E))


@given(st.text(), st.sampled_from(["\x00", "\x7f", "\u202e", "\x01", "\ufffe"]))
def test_text_the_one_scan_passes_is_left_as_it_is(text: str, removed: str) -> None:
    """What the one-scan check for other text relies on: text in which ``_UNSAFE``
    finds nothing is left unchanged by the full treatment (forced here by a character
    it removes)."""
    text = _UNSAFE.sub("", text)
    assert safe_text(text + removed) == text
    assert safe_text(removed + text) == text


@given(PRINTABLE_ASCII, st.sampled_from(["\x00", "\x7f", "\u202e", "\x01"]))
def test_printable_ascii_is_left_as_it_is(text: str, removed: str) -> None:
    """What the fast path for printable ASCII relies on: the full treatment (forced by a
    character it removes) leaves such text unchanged."""
    assert safe_text(text) == text
    assert safe_text(text + removed) == text
    assert safe_text(text + removed, 30) == safe_text(text, 30)
    name = safe_name(text)
    assert name == safe_name(text + removed)


def test_the_text_policy_by_example() -> None:
    assert safe_text("a\r\nb\rc\u2028d") == "a\nb\nc\nd"
    assert safe_text("\x01ACTION hi\x01") == "ACTION hi"
    assert safe_text("evil\u202egnp.exe") == "evilgnp.exe"
    assert safe_text("tab\tok, emoji 👩\u200d💻 ok") == "tab\tok, emoji 👩\u200d💻 ok"
    assert safe_text("\ud800x") == "\ufffdx"
    assert safe_text("x" * 10, 5) == "xxxx…"
    assert safe_name("  ann \n the\tgreat ") == "ann the great"


def test_make_event_is_valid_for_every_kind() -> None:
    for kind in EVENT_KINDS:
        event = make_event("linechat", kind, text="hi\x00", room="lobby", user="ann\n")
        if kind == "reaction":
            event["emoji"] = "👍"
        assert validate_event(event) is event
        assert event["text"] == "hi"
        assert event["user"] == "ann"
        assert event["room_id"] == "lobby"
        assert event["user_id"] == "ann\n"


def test_validate_event_names_every_problem() -> None:
    with pytest.raises(ChatContractError) as error:
        validate_event({"kind": "shout", "text": "\x01", "timestamp": True})
    message = str(error.value)
    for part in ("kind 'shout'", "text is not safe_text", "room must be str", "timestamp"):
        assert part in message


def test_read_event_fills_a_first_contract_event() -> None:
    event = read_event({"text": "hi", "user": "ann", "room": "r", "private": True}, "pager")
    assert validate_event(event) == event
    assert event["protocol"] == "pager"
    assert event["kind"] == "message"
    assert event["is_direct"] is True
    assert event["message_id"] is None
    join = read_event({"user": "ann", "room": "r", "self": True}, "irc", "join")
    assert join["kind"] == "join"
    assert join["is_self"] is True


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "kind",
                "text",
                "room",
                "user",
                "mentions",
                "timestamp",
                "message_id",
                "is_direct",
                "emoji",
            ]
        ),
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(),
            st.text(),
            st.lists(st.text(), max_size=3),
            st.floats(),
        ),
    )
)
def test_read_event_always_gives_a_valid_event(content: dict[str, Any]) -> None:
    event = read_event(content, "x")
    if event["kind"] == "reaction" and "emoji" not in event:
        event["emoji"] = "?"
    validate_event(event)


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "type",
                "kind",
                "text",
                "reply_to",
                "message_id",
                "emoji",
                "private",
                "user",
                "timestamp",
            ]
        ),
        st.one_of(st.none(), st.booleans(), st.integers(), st.text()),
    )
)
def test_validate_reply_accepts_or_explains(message: dict[str, Any]) -> None:
    try:
        reply = validate_reply(message)
    except ChatContractError:
        return
    assert reply["kind"] in ("message", "action", "notice", "reaction", "edit", "delete")
    assert "type" not in reply
    if "text" in reply:
        assert safe_text(reply["text"]) == reply["text"]


def test_replies_by_kind() -> None:
    assert validate_reply({"text": "hi"}) == {"text": "hi", "kind": "message"}
    assert validate_reply({"type": "chat.send", "text": "hi"})["kind"] == "message"
    reaction = validate_reply({"kind": "reaction", "emoji": "👍", "reply_to": "m1"})
    assert reaction["emoji"] == "👍"
    for bad in (
        {"type": "websocket.send", "text": "x"},
        {"kind": "shout", "text": "x"},
        {"kind": "edit", "text": "x"},
        {"kind": "delete"},
        {"kind": "reaction", "emoji": "👍"},
        {"text": 3},
        {"text": "x", "private": "yes"},
    ):
        with pytest.raises(ChatContractError):
            validate_reply(bad)


def test_attribution_is_on_every_line() -> None:
    reply = validate_reply({"text": "one\ntwo", "user": "ann", "protocol": "websocket"})
    assert rendered_lines(reply) == ["[web] <ann> one", "[web] <ann> two"]
    action = validate_reply({"text": "waves", "kind": "action", "user": "bob", "protocol": "irc"})
    assert attribution(action) == "[irc] * bob "
    assert attribution(validate_reply({"text": "mine"})) == ""
    assert rendered_lines(validate_reply({"text": "a", "user": "x\n<y>"})) == ["<x <y>> a"]


def test_degrade_falls_back_or_declines_counted_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    counts: Counter[str] = Counter()
    log = RateLimitedLog(logging.getLogger("test.chat"), interval=3600)
    reaction = validate_reply(
        {"kind": "reaction", "emoji": "👍", "reply_to": "m1", "user": "ann", "protocol": "irc",
         "fallback": "reacted 👍 to bob"}
    )  # fmt: skip
    done = degrade(reaction, {"message", "reaction"}, counts.update, log)
    assert done.reply is reaction
    assert not done.fallback
    fell = degrade(reaction, {"message"}, lambda name: counts.update([name]), log)
    assert fell.fallback
    assert fell.reply is not None
    assert fell.reply["kind"] == "action"
    assert fell.reply["text"] == "reacted 👍 to bob"
    assert fell.reply["user"] == "ann"
    assert fell.reply["reply_to"] == "m1"
    bare = validate_reply({"kind": "delete", "message_id": "m1"})
    with caplog.at_level(logging.WARNING, "test.chat"):
        for _ in range(3):
            assert degrade(bare, {"message"}, lambda name: counts.update([name]), log).reply is None
    assert counts == {"chat_fallback_reaction": 1, "chat_declined_delete": 3}
    assert len([r for r in caplog.records if "declined" in r.message]) == 1

"""The chat contract's WebSocket forms, pure: JSON frames in and out, plain frames."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from telephonist.chat import ChatContractError, validate_event
from telephonist.interfaces.websocket.chat import ChatFrameError, ChatSocket, plain_reply

PLAIN = frozenset({"message", "action", "notice"})


def test_hello_tells_the_page_its_id_and_the_limit() -> None:
    sock = ChatSocket(max_text=10)
    hello = json.loads(sock.hello())
    assert hello == {
        "type": "hello",
        "protocol": "telephonist.chat.v2",
        "user_id": sock.user_id,
        "max_text": 10,
    }


def test_a_client_frame_becomes_a_valid_event_with_server_ids() -> None:
    sock = ChatSocket(max_text=100)
    frame = {"text": "hi\x00\x01 all", "nonce": "n1", "user_id": "forged", "message_id": "x"}
    event = sock.decode(json.dumps(frame), "/chat/lobby/", "1.2.3.4:5")
    assert validate_event(event)
    assert event["text"] == "hi all"
    assert event["user_id"] == sock.user_id
    assert event["message_id"] == f"{sock.user_id}.1"
    assert event["nonce"] == "n1"
    assert json.loads(sock.ack(event) or "{}") == {
        "type": "ack",
        "nonce": "n1",
        "message_id": event["message_id"],
    }
    second = sock.decode('{"kind": "action", "text": "waves"}', "/r/", "u")
    assert (second["kind"], second["message_id"]) == ("action", f"{sock.user_id}.2")
    react = sock.decode('{"kind": "reaction", "emoji": "👍", "reply_to": "m1"}', "/r/", "u")
    assert (react["emoji"], react["text"], react["reply_to"]) == ("👍", "👍", "m1")
    edit = sock.decode('{"kind": "edit", "message_id": "m1", "text": "new"}', "/r/", "u")
    assert (edit["kind"], edit["message_id"]) == ("edit", "m1")


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ("not json", "bad_frame"),
        ("[1, 2]", "bad_frame"),
        ('{"kind": "join"}', "unknown_kind"),
        ('{"text": 5}', "bad_frame"),
        ('{"text": "' + "x" * 11 + '"}', "too_large"),
        ('{"text": "   "}', "empty"),
        ('{"kind": "delete"}', "bad_frame"),
        ('{"kind": "reaction", "emoji": "👍"}', "bad_frame"),
        ('{"text": "x", "reply_to": 7}', "bad_frame"),
    ],
)
def test_bad_frames_get_a_code_and_a_sentence(payload: str, code: str) -> None:
    sock = ChatSocket(max_text=10)
    with pytest.raises(ChatFrameError) as error:
        sock.decode(payload, "/r/", "u")
    assert error.value.code == code
    frame = json.loads(sock.error(error.value, "n"))
    assert (frame["type"], frame["code"], frame["nonce"]) == ("error", code, "n")
    assert frame["text"].endswith(".")
    if code == "too_large":
        assert "10 characters" in frame["text"]


@given(st.text(max_size=300))
def test_any_frame_is_an_event_or_a_refusal(payload: str) -> None:
    sock = ChatSocket(max_text=100)
    try:
        event = sock.decode(payload, "/r/", "u")
    except ChatFrameError:
        return
    validate_event(event)


def test_replies_become_event_and_state_frames() -> None:
    sock = ChatSocket(max_text=100)
    own = {"text": "hi", "user": "ann", "user_id": sock.user_id, "message_id": "m1"}
    frame = json.loads(sock.encode(own))
    assert frame == {
        "type": "event",
        "kind": "message",
        "text": "hi",
        "user": "ann",
        "user_id": sock.user_id,
        "message_id": "m1",
        "is_self": True,
    }
    other = json.loads(sock.encode({"kind": "reaction", "emoji": "🎉", "reply_to": "m1"}))
    assert (other["kind"], other["emoji"], other["is_self"]) == ("reaction", "🎉", False)
    state = json.loads(sock.encode({"type": "chat.state", "members": [{"user": "ann"}]}))
    assert state == {"type": "state", "members": [{"user": "ann"}]}
    with pytest.raises(ChatContractError):
        sock.encode({"kind": "edit", "text": "no id"})


def test_plain_frames_are_attributed_or_fall_back() -> None:
    assert plain_reply({"text": "raw \x01 stays"}, PLAIN) == ("raw \x01 stays", "native")
    relayed = {"text": "a\nb", "user": "ann", "protocol": "irc"}
    assert plain_reply(relayed, PLAIN) == ("[irc] <ann> a\n[irc] <ann> b", "native")
    assert plain_reply({"text": "waves", "kind": "action"}, PLAIN) == ("* waves", "native")
    react = {"kind": "reaction", "emoji": "👍", "reply_to": "m1", "user": "bo"}
    assert plain_reply(react, PLAIN) == (None, "declined")
    assert plain_reply({**react, "fallback": "liked it"}, PLAIN) == ("* bo liked it", "fallback")

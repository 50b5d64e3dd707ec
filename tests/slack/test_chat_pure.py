"""Slack in the common chat contract, the pure parts: events in, replies out."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from telephonist.chat import validate_event
from telephonist.interfaces.slack import spec
from telephonist.interfaces.slack.actions import Declined, Rejected, WebCall, plan_reply
from telephonist.interfaces.slack.chat_replies import escape
from telephonist.interfaces.slack.emoji import emoji_of, slack_name
from telephonist.interfaces.slack.envelopes import Inbound
from telephonist.interfaces.slack.mapping import Bot, Mapped, Names, Skip, Target, map_inbound

BOT = Bot("UBOT", "BBOT")
NAMES = Names({"U1": "Alice", "U2": "Bob"}, {"C1": "general"})
CHAN = Target("T1", "C1")
THREAD = Target("T1", "C1", "1.0")


def mapped(event: dict[str, Any]) -> Mapped | Skip:
    payload = {"type": "event_callback", "team_id": "T1", "event_id": "Ev1", "event": event}
    return map_inbound(Inbound("event", payload, "k", "e", False, 0, ""), NAMES, BOT, False)


def chat(event: dict[str, Any]) -> dict[str, Any]:
    found = mapped(event)
    assert isinstance(found, Mapped), found
    assert validate_event(found.message)
    return found.message


MSG = {"type": "message", "user": "U1", "channel": "C1", "channel_type": "channel",
       "text": "hi <@U2> &lt;3", "ts": "2.0"}  # fmt: skip


def test_messages_actions_threads_and_directs() -> None:
    m = chat(MSG)
    assert (m["kind"], m["text"], m["user"], m["room"], m["room_id"]) == (
        "message", "hi @Bob <3", "Alice", "general", "C1")  # fmt: skip
    assert (m["message_id"], m["thread_id"], m["mentions"], m["protocol"]) == (
        "2.0", None, ["Bob"], "slack")  # fmt: skip
    assert (m["is_direct"], m["is_bot"], m["is_self"], m["timestamp"]) == (False, False, False, 2.0)
    reply = chat({**MSG, "thread_ts": "1.0"})
    assert (reply["thread_id"], reply["reply_to"], reply["thread_ts"]) == ("1.0", "1.0", "1.0")
    assert chat({**MSG, "subtype": "me_message", "text": "waves"})["kind"] == "action"
    direct = chat({**MSG, "channel": "D1", "channel_type": "im"})
    assert (direct["is_direct"], direct["room"], direct["room_id"]) == (True, "Alice", "D1")
    mention = mapped({**MSG, "type": "app_mention"})
    assert isinstance(mention, Mapped)
    assert mention.channel == spec.APP_MENTION


def test_edits_deletes_topics() -> None:
    edit = chat({"type": "message", "subtype": "message_changed", "channel": "C1",
                 "channel_type": "channel", "event_ts": "3.0",
                 "message": {"user": "U1", "text": "new", "ts": "2.0"},
                 "previous_message": {"user": "U1", "text": "old", "ts": "2.0"}})  # fmt: skip
    assert (edit["kind"], edit["message_id"], edit["text"], edit["previous_text"]) == (
        "edit", "2.0", "new", "old")  # fmt: skip
    unfurl = {"type": "message", "subtype": "message_changed", "channel": "C1",
              "message": {"user": "U1", "text": "same", "ts": "2.0", "attachments": [{}]},
              "previous_message": {"user": "U1", "text": "same", "ts": "2.0"}}  # fmt: skip
    assert mapped(unfurl) == Skip("ignored_unchanged")
    mine = {**unfurl, "message": {"user": "UBOT", "text": "x", "ts": "2.0"}}
    assert mapped(mine) == Skip("ignored_own")
    delete = chat({"type": "message", "subtype": "message_deleted", "channel": "C1",
                   "deleted_ts": "2.0",
                   "previous_message": {"user": "U1", "text": "old"}})  # fmt: skip
    assert (delete["kind"], delete["message_id"], delete["user"]) == ("delete", "2.0", "Alice")
    topic = chat({**MSG, "subtype": "channel_topic", "topic": "plans",
                  "text": "set the channel topic: plans"})  # fmt: skip
    assert (topic["kind"], topic["text"]) == ("topic", "plans")


def test_reactions_and_membership() -> None:
    added = {"type": "reaction_added", "user": "U1", "reaction": "thumbsup",
             "item": {"type": "message", "channel": "C1", "ts": "2.0"},
             "event_ts": "3.0"}  # fmt: skip
    r = chat(added)
    assert (r["kind"], r["emoji"], r["reply_to"], r["room"], r.get("removed")) == (
        "reaction", "👍", "2.0", "general", None)  # fmt: skip
    gone = chat({**added, "type": "reaction_removed", "reaction": "party-parrot"})
    assert (gone["emoji"], gone["removed"]) == (":party-parrot:", True)
    joined = chat({"type": "member_joined_channel", "user": "U2", "channel": "C1"})
    assert (joined["kind"], joined["user"], joined["is_self"]) == ("join", "Bob", False)
    left = mapped({"type": "member_left_channel", "user": "U2", "channel": "C1"})
    assert isinstance(left, Mapped)
    assert left.channel == spec.LEAVE


def test_emoji_names() -> None:
    assert (slack_name("👍"), slack_name(":tada:"), slack_name("❤"), slack_name("🦜")) == (
        "+1", "tada", "heart", None)  # fmt: skip
    assert emoji_of("+1::skin-tone-3") == "👍"


def test_chat_replies_map_to_web_api_calls() -> None:
    def plan(message: dict[str, Any], target: Target = CHAN) -> Any:
        return plan_reply(message, target, False)

    assert plan({"text": "hi", "thread_id": "1.0"}) == WebCall(
        "chat.postMessage", {"channel": "C1", "text": "hi", "thread_ts": "1.0"}, "C1")  # fmt: skip
    assert plan({"text": "hi", "reply_to": "2.0"}).params["thread_ts"] == "2.0"
    assert plan({"text": "hi"}, THREAD).params["thread_ts"] == "1.0"
    assert plan({"kind": "action", "text": "waves"}).method == "chat.meMessage"
    assert plan({"kind": "notice", "text": "n"}).method == "chat.postMessage"
    assert plan({"kind": "edit", "message_id": "2.0", "text": "x"}) == WebCall(
        "chat.update", {"channel": "C1", "ts": "2.0", "text": "x"}, "C1")  # fmt: skip
    assert plan({"kind": "delete", "message_id": "2.0"}).method == "chat.delete"
    react = plan({"kind": "reaction", "emoji": "👍", "reply_to": "2.0"})
    assert react == WebCall("reactions.add",
                            {"channel": "C1", "timestamp": "2.0", "name": "+1"}, "C1")  # fmt: skip
    un = plan({"kind": "reaction", "emoji": "👍", "reply_to": "2.0", "removed": True})
    assert un.method == "reactions.remove"
    assert plan({"kind": "reaction", "emoji": "🦜", "reply_to": "2.0"}) == Declined("reaction")
    fell = plan({"kind": "reaction", "emoji": "🦜", "reply_to": "2.0", "fallback": "parrot"})
    assert (fell.method, fell.params["text"], fell.counter) == (
        "chat.postMessage", "parrot", "chat_fallback_reaction")  # fmt: skip
    private = plan({"text": "psst", "private": True, "to": "U1"})
    assert (private.method, private.params["user"]) == ("chat.postEphemeral", "U1")
    in_dm = plan({"text": "psst", "private": True, "to": "Alice"}, Target("T1", "D1"))
    assert in_dm.method == "chat.postMessage"
    assert isinstance(plan({"kind": "edit", "text": "x"}), Rejected)  # no message_id


def test_relayed_replies_are_attributed_on_every_line_and_escaped() -> None:
    relayed = plan_reply({"text": "one\n<!channel> two", "user": "ann", "protocol": "irc"},
                         CHAN, False)  # fmt: skip
    assert isinstance(relayed, WebCall)
    assert relayed.params["text"] == "[irc] &lt;ann&gt; one\n[irc] &lt;ann&gt; &lt;!channel&gt; two"
    reaction = plan_reply({"kind": "reaction", "emoji": "👍", "reply_to": "2.0", "user": "ann",
                           "protocol": "websocket", "fallback": "reacted 👍 to bob"},
                          CHAN, False)  # fmt: skip
    assert isinstance(reaction, WebCall)
    assert reaction.params["text"] == "[web] * ann reacted 👍 to bob"


@given(st.text(max_size=50))
def test_escape_leaves_no_markup(text: str) -> None:
    assert "<" not in escape(text)
    assert ">" not in escape(text)


_WORDS = st.sampled_from(["U1", "UBOT", "C1", "D1", "1.0", "2.0", "", "x", "im", "me_message",
                          "message_changed", "message_deleted", "channel_topic"])  # fmt: skip
_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | _WORDS,
                       lambda inner: st.dictionaries(_WORDS, inner, max_size=4)
                       | st.lists(inner, max_size=3), max_leaves=12)  # fmt: skip
_TYPES = st.sampled_from(["message", "app_mention", "reaction_added", "reaction_removed",
                          "member_joined_channel", "member_left_channel", "other"])  # fmt: skip
_KEYS = st.sampled_from(["user", "channel", "channel_type", "text", "ts", "thread_ts",
                         "subtype", "bot_id", "message", "previous_message", "deleted_ts",
                         "item", "reaction", "topic", "event_ts", "files"])  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(_TYPES, st.dictionaries(_KEYS, _VALUES, max_size=8))
def test_any_event_maps_to_a_valid_chat_event_or_a_skip(kind: str, rest: dict[str, Any]) -> None:
    found = mapped({**rest, "type": kind})
    if isinstance(found, Mapped) and found.channel != spec.EVENT:
        assert validate_event(found.message)

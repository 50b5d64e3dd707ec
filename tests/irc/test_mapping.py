"""Server lines -> events, and reply messages -> lines, with the session that knows us."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from telephonist.chat import validate_event
from telephonist.interfaces.irc import spec
from telephonist.interfaces.irc.events import Event, Ignored, map_line
from telephonist.interfaces.irc.lines import MAX_LINE_BYTES, parse_line
from telephonist.interfaces.irc.replies import Plan, Rejected, _chat_reply, plan_reply
from telephonist.interfaces.irc.session import Session, casefold


def session(nick: str = "bot") -> Session:
    s = Session(nick)
    for raw in (
        ":srv 001 bot :Welcome to the net bot!~bot@bot.host",
        ":srv 005 bot CASEMAPPING=rfc1459 CHANTYPES=# STATUSMSG=@+ :are supported",
    ):
        s.observe(parse_line(raw))
    return s


def event(raw: str, s: Session | None = None) -> Event | Ignored:
    s = s or session()
    line = parse_line(raw)
    s.observe(line)
    return map_line(line, s, "net")


def test_session_learns_itself() -> None:
    s = session()
    assert (s.nick, s.ident, s.host) == ("bot", "~bot", "bot.host")
    assert s.source_length() == len("bot!~bot@bot.host")
    s.observe(parse_line(":bot!~bot@bot.host NICK :Bot[1]"))
    assert s.is_me("bot{1}")  # rfc1459 casemapping
    s.observe(parse_line(":Bot[1]!~bot@bot.host CHGHOST newid new.host"))
    assert (s.ident, s.host) == ("newid", "new.host")
    s.observe(parse_line(":Bot[1]!newid@new.host JOIN #Room"))
    assert s.channels == {"#room": "#Room"}
    s.observe(parse_line(":op!o@h KICK #ROOM bot[1] :bye"))
    assert s.channels == {}
    unknown = Session("n")
    assert unknown.source_length() >= len("n") + 2 + 11 + 63
    assert casefold("A[]~", "ascii") == "a[]~"


def test_channel_message_event() -> None:
    ev = event("@time=2024-05-01T10:00:00.000Z;msgid=x :Al!al@h PRIVMSG #Room :!ping")
    assert isinstance(ev, Event)
    assert ev.channel == spec.RECEIVE
    assert ev.room == "#Room"
    assert ev.message == {
        "type": "irc-client.receive",
        "kind": "message",
        "text": "!ping",
        "room": "#Room",
        "target": "#Room",
        "private": False,
        "network": "net",
        "user": "Al",
        "nick": "Al",
        "ident": "al",
        "host": "h",
        "tags": {"time": "2024-05-01T10:00:00.000Z", "msgid": "x"},
        "time": "2024-05-01T10:00:00.000Z",
        # the common chat contract
        "raw_text": "!ping",
        "room_id": "net/#room",
        "user_id": "net/al",
        "is_direct": False,
        "is_self": False,
        "is_bot": False,
        "message_id": "x",
        "thread_id": None,
        "reply_to": None,
        "mentions": [],
        "protocol": "irc",
        "timestamp": 1714557600.0,
    }
    assert validate_event(ev.message)


def test_text_is_plain_and_mentions_and_replies_are_read() -> None:
    s = session()
    for raw in (
        ":bot!~bot@bot.host JOIN #r",
        ":srv 353 bot = #r :bot @Al +Bo[b] carol",
        ":srv 366 bot #r :End of /NAMES list.",
    ):
        event(raw, s)
    ev = event(
        "@+draft/reply=m0;bot :Al!al@h PRIVMSG #r :\x02bold\x02 \x0304,01hey\x03 bo{b}, carol!",
        s,
    )
    assert isinstance(ev, Event)
    assert ev.message["text"] == "bold hey bo{b}, carol!"
    assert ev.message["raw_text"].startswith("\x02bold")
    assert ev.message["mentions"] == ["Bo[b]", "carol"]
    assert ev.message["reply_to"] == "m0"
    assert ev.message["is_bot"] is True
    assert validate_event(ev.message)


def test_reactions_are_tagmsgs() -> None:
    s = session()
    react = event("@+draft/react=👍;+draft/reply=m1;msgid=m2 :Al!al@h TAGMSG #r", s)
    assert isinstance(react, Event)
    assert react.channel == spec.RECEIVE
    assert (react.message["kind"], react.message["emoji"], react.message["reply_to"]) == (
        "reaction",
        "👍",
        "m1",
    )
    assert validate_event(react.message)
    unreact = event("@+draft/unreact=👍;+draft/reply=m1 :Al!al@h TAGMSG #r", s)
    assert isinstance(unreact, Event)
    assert unreact.message["removed"] is True
    typing = event("@+typing=active :Al!al@h TAGMSG #r", s)
    assert isinstance(typing, Ignored)


def test_private_messages_have_a_namespace_of_their_own() -> None:
    ev = event(":lobby!l@h PRIVMSG bot :hi")
    assert isinstance(ev, Event)
    assert ev.message["is_direct"] is True
    assert ev.room == "lobby"
    assert ev.message["room_id"] == "net/lobby"
    channel = event(":Al!al@h PRIVMSG #lobby :hi")
    assert isinstance(channel, Event)
    assert channel.message["room_id"] == "net/#lobby"


def test_private_notice_action_statusmsg() -> None:
    private = event(":Al!al@h PRIVMSG bot :hi")
    assert isinstance(private, Event)
    assert private.room == "Al"
    assert private.message["private"] is True
    notice = event(":Al!al@h NOTICE #r :note")
    assert isinstance(notice, Event)
    assert notice.message["kind"] == "notice"
    action = event(":Al!al@h PRIVMSG #r :\x01ACTION waves\x01")
    assert isinstance(action, Event)
    assert (action.message["kind"], action.message["text"]) == ("action", "waves")
    ops = event(":Al!al@h PRIVMSG @#r :ops only")
    assert isinstance(ops, Event)
    assert ops.room == "#r"
    assert ops.message["target"] == "@#r"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (":bot!~bot@bot.host PRIVMSG #r :my own echo", "own_message"),
        (":BOT!~bot@bot.host PRIVMSG #r :echo, other case", "own_message"),
        (":irc.server.net NOTICE bot :*** server notice", "server_notice"),
        (":Al!al@h PRIVMSG bot :\x01VERSION\x01", "ctcp_request"),
        (":Al!al@h NOTICE bot :\x01VERSION mIRC\x01", "ctcp_reply"),
        (":srv 353 bot = #r :a b c", "other"),
        (":Al!al@h KICK #r", "malformed"),
    ],
)
def test_ignored(raw: str, reason: str) -> None:
    ev = event(raw)
    assert isinstance(ev, Ignored)
    assert ev.reason == reason


def test_membership_and_network_events() -> None:
    s = session()
    assert isinstance(event(":bot!~bot@bot.host JOIN #r", s), Ignored)  # NAMES to come
    assert isinstance(event(":srv 332 bot #r :the \x02topic", s), Ignored)
    assert isinstance(event(":srv 353 bot = #r :@bot Al Cy", s), Ignored)
    join = event(":srv 366 bot #r :End of /NAMES list.", s)
    assert isinstance(join, Event)
    assert join.message["self"] is True
    assert join.message["is_self"] is True
    assert join.message["kind"] == "join"
    assert join.message["members"] == ["Al", "bot", "Cy"]
    assert join.message["topic"] == "the topic"
    assert join.room == "#r"
    assert validate_event(join.message)
    assert isinstance(event(":srv 366 bot #r :End of /NAMES list.", s), Ignored)  # /NAMES
    other = event(":Dee!d@h JOIN #r", s)
    assert isinstance(other, Event)
    assert (other.message["kind"], other.message["self"]) == ("join", False)
    part = event(":Al!al@h PART #r :gone", s)
    assert isinstance(part, Event)
    assert part.message["reason"] == "gone"
    assert part.message["kind"] == "leave"
    assert s.member_names("#r") == ["bot", "Cy", "Dee"]
    quits = event(":Cy!c@h QUIT :Quit: bye", s)
    assert isinstance(quits, list)
    assert [(q.channel, q.room, q.message["kind"]) for q in quits] == [(spec.QUIT, "#r", "leave")]
    assert quits[0].message["reason"] == "Quit: bye"
    kick = event(":Op!o@h KICK #r bot :out", s)
    assert isinstance(kick, Event)
    assert kick.message["kicked"] == "bot"
    assert kick.message["user"] == "bot"
    assert kick.message["kicker"] == "Op"
    assert kick.message["kind"] == "leave"
    assert kick.message["self"] is True
    invite = event(":Al!al@h INVITE bot :#new", s)
    assert isinstance(invite, Event)
    assert invite.room == "#new"
    assert invite.message["self"]
    topic = event(":Al!al@h TOPIC #r :new topic", s)
    assert isinstance(topic, Event)
    assert topic.message["topic"] == "new topic"
    assert (topic.message["kind"], topic.message["text"]) == ("topic", "new topic")
    quit_ = event(":Al!al@h QUIT :Quit: bye", s)
    assert isinstance(quit_, Event)
    assert quit_.room is None
    assert quit_.channel == spec.QUIT
    nick = event(":bot!~bot@bot.host NICK newbot", s)
    assert isinstance(nick, Event)
    assert nick.message["self"]
    assert nick.message["new_nick"] == "newbot"


# -- replies -----------------------------------------------------------------------------


def relayed_length(s: Session, line: str) -> int:
    # Before the server told us our mask, assume the longest one it may use.
    ident, host = s.ident or "~" + "u" * 10, s.host or "h" * 63
    return len(f":{s.nick}!{ident}@{host} {line}\r\n".encode())


def test_chat_reply_goes_to_the_room() -> None:
    plan = plan_reply({"text": "pong"}, "#r", session())
    assert plan.lines == ["PRIVMSG #r :pong"]
    plan = plan_reply({"type": "chat.send", "text": "a\nb"}, "Al", session())
    assert plan.lines == ["PRIVMSG Al :a", "PRIVMSG Al :b"]


@pytest.mark.parametrize(
    "text",
    [
        "hi\r\nQUIT :pwned",
        "hi\nPRIVMSG #other :spam",
        "hi\rJOIN #evil",
        "hi\0KICK #r x",
        "\r\n\r\nNICK evil",
    ],
)
def test_injection_through_text_stays_inside_privmsg(text: str) -> None:
    for line in plan_reply({"text": text}, "#r", session()).lines:
        parsed = parse_line(line)
        assert parsed.command == "PRIVMSG"
        assert parsed.params[0] == "#r"
        assert not set(line) & set("\r\n\0")


@pytest.mark.parametrize(
    "message",
    [
        {"type": spec.SEND_MESSAGE, "target": "#r\r\nQUIT", "text": "x"},
        {"type": spec.SEND_MESSAGE, "target": "#a,#b", "text": "x"},
        {"type": spec.SEND_MESSAGE, "target": "#a :x", "text": "x"},
        {"type": spec.SEND_JOIN, "channel": "#a\nQUIT"},
        {"type": spec.SEND_JOIN, "channel": "#a", "key": "k k"},
        {"type": spec.SEND_JOIN, "channel": "nochan"},
        {"type": spec.SEND_NICK, "nick": "a b"},
        {"type": spec.SEND_KICK, "channel": "#r"},
        {"type": "irc-client.receive", "text": "x"},
        {"type": "websocket.send", "text": "x"},
        {"text": 5},
        {"text": "\r\n\0"},
    ],
)
def test_rejected(message: dict[str, object]) -> None:
    with pytest.raises(Rejected):
        plan_reply(message, "#r", session())


def _planned(plan: Callable[[], Plan]) -> Plan | str:
    try:
        return plan()
    except Rejected as exc:
        return f"rejected: {exc}"


@given(
    text=st.text(max_size=1200) | st.sampled_from(["", " ", "\n", "pong 7", "\x00", "é" * 400]),
    room=st.sampled_from(["#r", "#" + "r" * 300, "Al", "#é"]),
)
def test_plain_text_fast_path_plans_what_the_chat_path_plans(text: str, room: str) -> None:
    # {"text": ...} alone skips the chat reply's checks: the same plan, or the same
    # refusal, as the general path gives it.
    s = session()
    general = _planned(lambda: _chat_reply({"text": text}, room, s, frozenset()))
    assert _planned(lambda: plan_reply({"text": text}, room, s)) == general


def test_chat_reply_without_room_is_rejected() -> None:
    with pytest.raises(Rejected, match="room"):
        plan_reply({"text": "x"}, None, session())


def test_explicit_actions() -> None:
    s = session()
    assert plan_reply({"type": spec.SEND_NOTICE, "target": "Al", "text": "n"}, None, s).lines == [
        "NOTICE Al :n"
    ]
    assert plan_reply({"type": spec.SEND_ACTION, "text": "waves"}, "#r", s).lines == [
        "PRIVMSG #r :\x01ACTION waves\x01"
    ]
    join = plan_reply({"type": spec.SEND_JOIN, "channel": "#k", "key": "sec"}, None, s)
    assert (join.lines, join.channel, join.key) == (["JOIN #k sec"], "#k", "sec")
    assert plan_reply({"type": spec.SEND_PART}, "#r", s).lines == ["PART #r"]
    assert plan_reply({"type": spec.SEND_PART, "reason": "a\nb"}, "#r", s).lines == ["PART #r :a b"]
    assert plan_reply({"type": spec.SEND_NICK, "nick": "n2"}, None, s).lines == ["NICK :n2"]
    assert plan_reply({"type": spec.SEND_TOPIC, "topic": "t"}, "#r", s).lines == ["TOPIC #r :t"]
    assert plan_reply({"type": spec.SEND_KICK, "nick": "x"}, "#r", s).lines == ["KICK #r x :x"]
    quit_ = plan_reply({"type": spec.SEND_QUIT, "reason": "bye"}, None, s)
    assert quit_.quit == "bye"
    assert quit_.lines == []


@given(
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=3000),
    st.sampled_from([spec.SEND_MESSAGE, spec.SEND_NOTICE, spec.SEND_ACTION]),
    st.sampled_from(["#r", "#a-much-longer-channel-name", "SomeNick"]),
    st.booleans(),
)
def test_every_planned_line_fits_the_relayed_limit(
    text: str, kind: str, target: str, known: bool
) -> None:
    # Prefix unknown (before 001/JOIN): the safe maximum must still keep lines <= 512.
    s = session() if known else Session("bot")
    try:
        plan = plan_reply({"type": kind, "target": target, "text": text}, None, s)
    except Rejected:
        assert not text.replace("\r", "").replace("\n", "").replace("\0", "").replace("\x01", "")
        return
    pieces = []
    for line in plan.lines:
        assert not set(line) & set("\r\n\0")
        assert relayed_length(s, line) <= MAX_LINE_BYTES
        body = parse_line(line).params[1]
        if kind == spec.SEND_ACTION:
            body = body.removeprefix("\x01ACTION ").removesuffix("\x01")
        pieces.append(body)
    # Every character arrives, in order; only line breaks, NUL, \x01 and the spaces
    # that splitting replaced with a line break are gone.
    gone = str.maketrans("", "", "\r\n\0\x01 ")
    assert "".join(pieces).translate(gone) == text.translate(gone)


# -- chat contract v2 replies ------------------------------------------------------------

TAGS = frozenset({"message-tags"})


def test_relayed_lines_are_attributed_every_one() -> None:
    s = session()
    long = " ".join(["word"] * 200) + "\nsecond line\r\n\x01ACTION fake\x01"
    reply = {"text": long, "user": "ann", "protocol": "websocket"}
    lines = plan_reply(reply, "#r", s).lines
    assert len(lines) >= 4
    for line in lines:
        parsed = parse_line(line)
        assert parsed.command == "PRIVMSG"
        assert parsed.param(1).startswith("[web] <ann> ")
        assert "\x01" not in line
        assert relayed_length(s, line) <= MAX_LINE_BYTES


def test_actions_notices_private_and_replies() -> None:
    s = session()
    assert plan_reply({"text": "waves", "kind": "action"}, "#r", s).lines == [
        "PRIVMSG #r :\x01ACTION waves\x01"
    ]
    relayed = {"text": "waves", "kind": "action", "user": "bob", "protocol": "slack"}
    assert plan_reply(relayed, "#r", s).lines == ["PRIVMSG #r :[slack] * bob waves"]
    assert plan_reply({"text": "fyi", "kind": "notice"}, "#r", s).lines == ["NOTICE #r :fyi"]
    private = {"text": "psst", "private": True, "to": "Al"}
    assert plan_reply(private, "#r", s).lines == ["PRIVMSG Al :psst"]
    with pytest.raises(Rejected):
        plan_reply({"text": "psst", "private": True, "to": "Al,Bo"}, "#r", s)
    threaded = {"text": "sure", "reply_to": "m1"}
    assert plan_reply(threaded, "#r", s).lines == ["PRIVMSG #r :sure"]  # no message-tags
    assert plan_reply(threaded, "#r", s, TAGS).lines == ["@+draft/reply=m1 PRIVMSG #r :sure"]


def test_reactions_need_message_tags_else_fallback_or_decline() -> None:
    s = session()
    react = {"kind": "reaction", "emoji": "👍", "reply_to": "m1"}
    plan = plan_reply(react, "#r", s, TAGS)
    assert plan.lines == ["@+draft/reply=m1;+draft/react=👍 TAGMSG #r"]
    declined = plan_reply(react, "#r", s)
    assert (declined.lines, declined.declined) == ([], "reaction")
    fell = plan_reply({**react, "fallback": "reacted 👍", "user": "ann"}, "#r", s)
    assert (fell.lines, fell.fallback) == (["PRIVMSG #r :* ann reacted 👍"], "reaction")
    s.observe(parse_line(":srv 005 bot CLIENTTAGDENY=*,-draft/reply :are supported"))
    assert plan_reply(react, "#r", s, TAGS).declined == "reaction"
    assert plan_reply({"text": "x", "reply_to": "m1"}, "#r", s, TAGS).lines[0].startswith("@")


@pytest.mark.parametrize("kind", ["edit", "delete"])
def test_irc_has_no_edits_or_deletes(kind: str) -> None:
    reply = {"kind": kind, "message_id": "m1", "text": "new"}
    assert plan_reply(reply, "#r", session(), TAGS).declined == kind
    fell = plan_reply({**reply, "fallback": "(edited) new"}, "#r", session(), TAGS)
    assert fell.lines == ["PRIVMSG #r :(edited) new"]

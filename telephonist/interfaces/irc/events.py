"""Server lines -> channel-layer events (``irc-client.*``). Pure: no I/O.

Theory of operation
-------------------
:func:`map_line` looks at one parsed line, with the :class:`Session` that knows who we
are, and returns the event(s) to publish, if any, each with the *room* it belongs to.
The room chooses the conversation and so the reply channel and ordering (see
``interface.py``): the channel for channel traffic, the other person's nick for private
traffic, ``None`` for network-wide events (nick changes, a quit nobody shared).

Chat events carry the common chat contract (``telephonist.chat``) besides IRC's own
keys: ``kind``, plain ``text`` (formatting removed; the original is ``raw_text``),
``room_id``/``user_id`` (``network/name``, folded the server's way), ``is_direct``
for private messages (whose room is the sender's nick: a namespace of its own, since
nicks never start with a channel prefix), IRCv3 ``msgid`` as ``message_id``,
``+draft/reply`` as ``reply_to``, a ``TAGMSG`` with ``+draft/react`` as a
``reaction``, ``server-time`` as ``timestamp``, the ``bot`` tag as ``is_bot``, and the
members named in the text as ``mentions``.

Our own JOIN is published once the server has sent the channel's NAMES and topic (its
366 ends them), with ``members`` and ``topic``: a consumer learns the room complete. A
QUIT is a ``leave`` in every channel the user shared with us, one event per room.

Our own messages, echoed back by ``echo-message``, are dropped here, as are server
notices (their source is a server, not a user). CTCP requests other than ACTION are not
events: the connection answers VERSION/PING/... itself, so they are reported as
:data:`CTCP_REQUEST` for it to handle.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ...chat import EventKind, make_event, safe_text
from ...core.codec import Content
from . import spec
from .ctcp import Ctcp, parse_ctcp
from .lines import Line, Source
from .session import Session
from .text import plain_text

__all__ = ["Event", "Ignored", "map_line"]

_NICKISH = re.compile(r"[A-Za-z0-9\[\]\\`_^{|}-]+")
_MAX_MENTIONS = 20
_REACT_TAGS = ("+draft/react", "+react")
_UNREACT_TAGS = ("+draft/unreact", "+unreact")
_REPLY_TAGS = ("+draft/reply", "+reply")


@dataclass(frozen=True, slots=True)
class Event:
    channel: str
    message: Content
    room: str | None


@dataclass(frozen=True, slots=True)
class Ignored:
    """A line that is deliberately not an event; ``reason`` names the counter."""

    reason: str
    ctcp: Ctcp | None = None
    source: Source | None = None


def _timestamp(tags: dict[str, str] | Any) -> float | None:
    stamp = tags.get("time") if tags else None
    if not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _tag(tags: Any, names: tuple[str, ...]) -> str | None:
    for name in names:
        value = tags.get(name) if tags else None
        if value:
            return str(value)[:512]
    return None


def _sender(line: Line, network: str) -> dict[str, Any]:
    src = line.source or Source("")
    fields: dict[str, Any] = {
        "network": network,
        "user": src.nick,
        "nick": src.nick,
        "ident": src.ident,
        "host": src.host,
    }
    if line.tags:
        fields["tags"] = dict(line.tags)
        if "time" in line.tags:
            fields["time"] = line.tags["time"]
    return fields


def _contract(
    kind: EventKind,
    line: Line,
    session: Session,
    network: str,
    room: str,
    *,
    user: str | None = None,
    text: str = "",
    direct: bool = False,
    about_me: bool = False,
) -> dict[str, Any]:
    """The chat contract's keys for an event about ``room`` (IRC's own keys are added
    by the caller; ``user`` defaults to the line's sender)."""
    nick = user if user is not None else (line.source.nick if line.source else "")
    tags = line.tags or {}
    return dict(
        make_event(
            "irc",
            kind,
            text=text,
            room=room,
            user=nick,
            room_id=f"{network}/{session.fold(room)}",
            user_id=f"{network}/{session.fold(nick)}",
            is_direct=direct,
            is_self=about_me,
            is_bot="bot" in tags or "draft/bot" in tags,
            message_id=_tag(tags, ("msgid", "draft/msgid")),
            reply_to=_tag(tags, _REPLY_TAGS),
            timestamp=_timestamp(tags),
        )
    )


def _room_of(target: str, session: Session) -> str | None:
    """The channel a target names (``@#ops`` is STATUSMSG to ``#ops``), else ``None``."""
    if session.is_channel(target):
        return target
    statusmsg = session.isupport.get("STATUSMSG", "@+")
    stripped = target.lstrip(statusmsg)
    if stripped != target and session.is_channel(stripped):
        return stripped
    return None


def _is_server(source: Source | None) -> bool:
    return source is None or (not source.ident and not source.host and "." in source.nick)


def _mentions(text: str, room: str, session: Session) -> list[str]:
    members = session.members.get(session.fold(room), {})
    found: list[str] = []
    for word in _NICKISH.findall(text):
        nick = members.get(session.fold(word))
        if nick is not None and nick not in found:
            found.append(nick)
            if len(found) >= _MAX_MENTIONS:
                break
    return found


def _message(line: Line, session: Session, network: str) -> Event | Ignored:
    if _is_server(line.source):
        return Ignored("server_notice")
    assert line.source is not None
    if session.is_me(line.source.nick):
        return Ignored("own_message")  # our echo-message echoes, or a message to ourselves
    target = line.param(0)
    raw = line.param(1)
    kind: EventKind = "message" if line.command == "PRIVMSG" else "notice"
    ctcp = parse_ctcp(raw)
    if ctcp is not None:
        if ctcp.verb != "ACTION" or kind == "notice":
            reason = "ctcp_request" if kind == "message" else "ctcp_reply"
            return Ignored(reason, ctcp, line.source)
        kind, raw = "action", ctcp.params
    channel = _room_of(target, session)
    direct = channel is None
    room = line.source.nick if direct else str(channel)
    text = plain_text(raw)
    message: Content = {
        "type": spec.RECEIVE,
        **_sender(line, network),
        **_contract(kind, line, session, network, room, text=text, direct=direct),
        "raw_text": raw,
        "target": target,
        "private": direct,
    }
    if not direct:
        message["mentions"] = _mentions(text, room, session)
    return Event(spec.RECEIVE, message, room)


def _reaction(line: Line, session: Session, network: str) -> Event | Ignored:
    """A TAGMSG: a reaction (``+draft/react``) is an event; typing notices are not."""
    if _is_server(line.source) or not line.params:
        return Ignored("other")
    assert line.source is not None
    if session.is_me(line.source.nick):
        return Ignored("own_message")
    emoji = _tag(line.tags, _REACT_TAGS) or _tag(line.tags, _UNREACT_TAGS)
    if emoji is None:
        return Ignored("other")
    channel = _room_of(line.param(0), session)
    room = line.source.nick if channel is None else channel
    emoji = safe_text(emoji, 32).replace("\n", " ")
    message: Content = {
        "type": spec.RECEIVE,
        **_sender(line, network),
        **_contract("reaction", line, session, network, room, text=emoji, direct=not channel),
        "emoji": emoji,
        "target": line.param(0),
        "private": channel is None,
    }
    if _tag(line.tags, _UNREACT_TAGS) is not None:
        message["removed"] = True
    return Event(spec.RECEIVE, message, room)


def _membership(line: Line, session: Session, network: str) -> Event | Ignored:
    assert line.source is not None
    command = line.command
    room = line.param(0)
    message: Content = _sender(line, network)
    if command == "JOIN":
        if session.is_me(line.source.nick):
            return Ignored("joining")  # published with the members, at the 366
        channel, about_me = spec.JOIN, False
        message.update(_contract("join", line, session, network, room))
    elif command == "PART":
        channel, about_me = spec.PART, session.is_me(line.source.nick)
        message.update(_contract("leave", line, session, network, room, about_me=about_me))
        message["reason"] = plain_text(line.param(1))
    elif command == "KICK":
        kicked = line.param(1)
        channel, about_me = spec.KICK, session.is_me(kicked)
        message.update(
            _contract("leave", line, session, network, room, user=kicked, about_me=about_me)
        )
        message["kicked"] = kicked
        message["kicker"] = line.source.nick
        message["reason"] = plain_text(line.param(2))
    elif command == "TOPIC":
        channel, about_me = spec.TOPIC, session.is_me(line.source.nick)
        topic = plain_text(line.param(1))
        message.update(
            _contract("topic", line, session, network, room, text=topic, about_me=about_me)
        )
        message["topic"] = topic
    else:  # INVITE target-nick channel
        channel, about_me = spec.INVITE, session.is_me(line.param(0))
        room = message["room"] = line.param(1)
    message["type"] = channel
    message["self"] = about_me
    return Event(channel, message, room)


def _joined(line: Line, session: Session, network: str) -> Event:
    """Our own join, complete: the channel's members and topic are known."""
    room = session.completed_join or line.param(1)
    me = Line("JOIN", (room,), Source(session.nick, session.ident, session.host))
    message: Content = {
        "type": spec.JOIN,
        **_sender(me, network),
        **_contract("join", me, session, network, room, about_me=True),
        "self": True,
        "members": session.member_names(room),
        "topic": plain_text(session.topics.get(session.fold(room), "")),
    }
    return Event(spec.JOIN, message, room)


def _quit(line: Line, session: Session, network: str) -> list[Event] | Event:
    """A leave in each room the user shared with us; network-wide if none is known."""
    assert line.source is not None
    reason = plain_text(line.param(0))
    base: Content = {**_sender(line, network), "type": spec.QUIT, "reason": reason}
    if not session.departed:
        return Event(spec.QUIT, {**base, "self": False}, None)
    leaves = []
    for room in session.departed:
        leave = _contract("leave", line, session, network, room)
        leaves.append(Event(spec.QUIT, {**base, **leave, "self": False, "reason": reason}, room))
    return leaves


def _nick(line: Line, session: Session, network: str) -> Event:
    assert line.source is not None
    message: Content = _sender(line, network)
    # NICK: the session has already moved our own nick to the new one.
    new = line.param(0)
    message.update(type=spec.NICK, new_nick=new, self=session.is_me(new))
    return Event(spec.NICK, message, None)


def map_line(line: Line, session: Session, network: str) -> Event | list[Event] | Ignored:
    """The event(s) ``line`` means (call after ``session.observe(line)``)."""
    command = line.command
    if command in ("PRIVMSG", "NOTICE") and len(line.params) >= 2:
        if not session.registered:
            return Ignored("server_notice")  # "*** Looking up your hostname..." and such
        return _message(line, session, network)
    if command == "366" and session.completed_join:
        return _joined(line, session, network)
    if _is_server(line.source):
        return Ignored("other")
    if command == "TAGMSG":
        return _reaction(line, session, network)
    if command in ("JOIN", "PART", "KICK", "TOPIC", "INVITE") and line.params:
        if command in ("KICK", "INVITE", "TOPIC") and len(line.params) < 2:
            return Ignored("malformed")
        return _membership(line, session, network)
    if command == "QUIT":
        return _quit(line, session, network)
    if command == "NICK":
        if not line.params:
            return Ignored("malformed")
        return _nick(line, session, network)
    return Ignored("other")

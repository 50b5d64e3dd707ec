"""Server lines -> channel-layer events (``irc-client.*``). Pure: no I/O.

Theory of operation
-------------------
:func:`map_line` looks at one parsed line, with the :class:`Session` that knows who we
are, and returns the event to publish, if any, with the *room* it belongs to. The room
chooses the conversation and so the reply channel and ordering (see ``interface.py``):
the channel for channel traffic, the other person's nick for private traffic, ``None``
for network-wide events (quit, nick change).

Our own messages, echoed back by ``echo-message``, are dropped here, as are server
notices (their source is a server, not a user). CTCP requests other than ACTION are not
events: the connection answers VERSION/PING/... itself, so they are reported as
:data:`CTCP_REQUEST` for it to handle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...core.codec import Content
from . import spec
from .ctcp import Ctcp, parse_ctcp
from .lines import Line, Source
from .session import Session

__all__ = ["Event", "Ignored", "map_line"]


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


def _message(line: Line, session: Session, network: str) -> Event | Ignored:
    if _is_server(line.source):
        return Ignored("server_notice")
    assert line.source is not None
    if session.is_me(line.source.nick):
        return Ignored("own_message")  # our echo-message echoes, or a message to ourselves
    target, text = line.param(0), line.param(1)
    kind = "message" if line.command == "PRIVMSG" else "notice"
    ctcp = parse_ctcp(text)
    if ctcp is not None:
        if ctcp.verb != "ACTION" or kind == "notice":
            reason = "ctcp_request" if kind == "message" else "ctcp_reply"
            return Ignored(reason, ctcp, line.source)
        kind, text = "action", ctcp.params
    channel = _room_of(target, session)
    room = channel if channel is not None else line.source.nick
    message: Content = {
        "type": spec.RECEIVE,
        "kind": kind,
        "text": text,
        "room": room,
        "target": target,
        "private": channel is None,
        **_sender(line, network),
    }
    return Event(spec.RECEIVE, message, room)


def _membership(line: Line, session: Session, network: str) -> Event | Ignored:
    assert line.source is not None
    command = line.command
    room = line.param(0)
    message: Content = {"room": room, **_sender(line, network)}
    if command == "JOIN":
        channel, about_me = spec.JOIN, session.is_me(line.source.nick)
    elif command == "PART":
        channel, about_me = spec.PART, session.is_me(line.source.nick)
        message["reason"] = line.param(1)
    elif command == "KICK":
        channel, about_me = spec.KICK, session.is_me(line.param(1))
        message["kicked"] = line.param(1)
        message["reason"] = line.param(2)
    elif command == "TOPIC":
        channel, about_me = spec.TOPIC, session.is_me(line.source.nick)
        message["topic"] = line.param(1)
    else:  # INVITE target-nick channel
        channel, about_me = spec.INVITE, session.is_me(line.param(0))
        room = message["room"] = line.param(1)
    message["type"] = channel
    message["self"] = about_me
    return Event(channel, message, room)


def _network(line: Line, session: Session, network: str) -> Event:
    assert line.source is not None
    message: Content = _sender(line, network)
    if line.command == "QUIT":
        message.update(type=spec.QUIT, reason=line.param(0), self=False)
        return Event(spec.QUIT, message, None)
    # NICK: the session has already moved our own nick to the new one.
    new = line.param(0)
    message.update(type=spec.NICK, new_nick=new, self=session.is_me(new))
    return Event(spec.NICK, message, None)


def map_line(line: Line, session: Session, network: str) -> Event | Ignored:
    """The event ``line`` means (call after ``session.observe(line)``)."""
    command = line.command
    if command in ("PRIVMSG", "NOTICE") and len(line.params) >= 2:
        if not session.registered:
            return Ignored("server_notice")  # "*** Looking up your hostname..." and such
        return _message(line, session, network)
    if _is_server(line.source):
        return Ignored("other")
    if command in ("JOIN", "PART", "KICK", "TOPIC", "INVITE") and line.params:
        if command in ("KICK", "INVITE", "TOPIC") and len(line.params) < 2:
            return Ignored("malformed")
        return _membership(line, session, network)
    if command in ("QUIT", "NICK"):
        if command == "NICK" and not line.params:
            return Ignored("malformed")
        return _network(line, session, network)
    return Ignored("other")

"""Reply-channel messages -> IRC lines. Pure: no I/O.

Theory of operation
-------------------
A conversation's reply channel receives what consumers send. :func:`plan_reply` checks
one such message and returns a :class:`Plan`: the wire lines to queue (already split to
fit the relayed 512-byte limit) and the side effect the connection must remember (a
channel to rejoin after reconnecting, a channel to forget, a quit). Anything it cannot
carry out safely raises :class:`Rejected` with a reason, which the interface logs and
counts; nothing partial is queued for a rejected message.

Accepted messages:

* the common chat reply (``telephonist.chat.ChatReply``; no ``type``, or a chat one):
  ``{"text": ...}`` is a PRIVMSG to the conversation's room (to ``to`` with
  ``private``); ``kind`` ``action`` is a CTCP ACTION, ``notice`` a NOTICE, ``reaction``
  a ``TAGMSG`` with ``+draft/react`` and ``+draft/reply`` (when the server has
  ``message-tags`` and allows those client tags), and ``reply_to`` becomes a
  ``+draft/reply`` tag on every line. A relayed message (``user``) carries its
  attribution in front of every line, ``[web] <ann> ``, so no line of it can pass for
  someone else's. IRC has no edits or deletes: those kinds, and reactions without
  message-tags, send the reply's ``fallback`` text, or are declined (``Plan.declined``:
  the interface counts and logs it);
* ``irc-client.send.message`` / ``.notice`` / ``.action``: ``text`` to ``target``
  (default: the room);
* ``irc-client.send.join`` (``channel``, ``key``), ``.part`` (``channel``, ``reason``),
  ``.nick`` (``nick``), ``.topic`` (``channel``, ``topic``), ``.kick`` (``channel``,
  ``nick``, ``reason``), ``.quit`` (``reason``); ``channel`` defaults to the room.

Text handling is the policy of ``text.py``: line breaks make separate messages, NUL and
``\\x01`` are removed, identifiers must be single words or the message is rejected.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from ...chat import (
    ChatContractError,
    ChatReply,
    attribution,
    fallback_for,
    is_chat_reply,
    safe_text,
    validate_reply,
)
from . import spec
from .ctcp import DELIM
from .lines import format_line
from .session import Session
from .text import message_lines, relay_budget, single_line, split_utf8, valid_word

__all__ = ["Plan", "Rejected", "plan_reply"]

_TEXT_COMMANDS = {
    spec.SEND_MESSAGE: "PRIVMSG",
    spec.SEND_NOTICE: "NOTICE",
    spec.SEND_ACTION: "PRIVMSG",
}
_ACTION_OVERHEAD = len(f"{DELIM}ACTION {DELIM}")


class Rejected(ValueError):
    """A reply-channel message the interface will not carry out; the text says why."""


@dataclass(slots=True)
class Plan:
    type: str
    lines: list[str] = field(default_factory=list)
    channel: str | None = None  # join/part: the channel concerned
    key: str | None = None  # join: its key
    quit: str | None = None  # quit: the reason
    declined: str | None = None  # a chat reply kind IRC cannot do (nothing to send)
    fallback: str | None = None  # a chat reply kind whose fallback text is sent instead


def _word(message: Mapping[str, Any], key: str, default: str | None = None) -> str:
    value = message.get(key, default)
    if value is None:
        raise Rejected(f"{key!r} is required")
    if not valid_word(value):
        raise Rejected(f"{key!r} must be one IRC word without spaces, commas or controls")
    assert isinstance(value, str)
    return value


def _channel(message: Mapping[str, Any], room: str | None, session: Session) -> str:
    channel = _word(message, "channel", room)
    if not session.is_channel(channel):
        raise Rejected(f"{channel!r} is not a channel name")
    return channel


def _free_text(message: Mapping[str, Any], key: str) -> str:
    value = message.get(key, "")
    if not isinstance(value, str):
        raise Rejected(f"{key!r} must be a string")
    return single_line(value)


def _fit(command: str, target: str, text: str, session: Session) -> str:
    """``text`` cut to the first piece that fits the relayed line (for reasons, topics)."""
    if not text:
        return text
    return split_utf8(text, relay_budget(command, target, session.source_length()))[0]


def _text_lines(
    command: str,
    target: str,
    text: object,
    action: bool,
    session: Session,
    prefix: str = "",
    tags: Mapping[str, str] | None = None,
) -> list[str]:
    if not isinstance(text, str):
        raise Rejected("'text' must be a string")
    budget = relay_budget(command, target, session.source_length()) - len(prefix.encode())
    if action:
        budget -= _ACTION_OVERHEAD
    if budget < 16:
        raise Rejected("the attribution leaves no room for text")
    lines: list[str] = []
    for line in message_lines(text):
        for piece in split_utf8(line, budget):
            body = f"{DELIM}ACTION {piece}{DELIM}" if action else prefix + piece
            lines.append(format_line(command, target, body, tags=tags))
    if not lines:
        raise Rejected("'text' is empty once cleaned")
    return lines


def _supported(session: Session, caps: Collection[str]) -> set[str]:
    kinds = {"message", "action", "notice"}
    if "message-tags" in caps and all(
        session.client_tag_allowed(tag) for tag in ("+draft/react", "+draft/reply")
    ):
        kinds.add("reaction")
    return kinds


def _plain_reply(text: str, room: str, session: Session) -> Plan:
    """The commonest reply, ``{"text": ...}`` and nothing else, as ``_chat_reply`` plans
    it (a message, always supported, with no attribution, tags or fallback), without
    checking the keys it does not have (tests compare the two)."""
    plan = Plan("chat.message")
    plan.lines = _text_lines("PRIVMSG", room, safe_text(text), False, session)
    return plan


def _chat_reply(
    message: Mapping[str, Any], room: str | None, session: Session, caps: Collection[str]
) -> Plan:
    try:
        reply: ChatReply = validate_reply(message)
    except ChatContractError as exc:
        raise Rejected(str(exc)) from None
    kind = reply["kind"]
    supported = _supported(session, caps)
    if reply.get("removed"):
        supported.discard("reaction")  # no tag takes a reaction back
    outcome = fallback_for(reply, supported)
    if outcome.reply is None:
        return Plan(f"chat.{kind}", declined=kind)
    reply = outcome.reply
    private = reply.get("private") and reply.get("to")
    target = _word(reply, "to") if private else room
    if target is None:
        raise Rejected("a chat reply needs a room; use irc-client.send.message with a target")
    tags: dict[str, str] = {}
    reply_to = reply.get("reply_to")
    if reply_to and "message-tags" in caps and session.client_tag_allowed("+draft/reply"):
        tags["+draft/reply"] = reply_to
    plan = Plan(f"chat.{reply['kind']}", fallback=kind if outcome.fallback else None)
    if reply["kind"] == "reaction":
        tags["+draft/react"] = reply.get("emoji", "")
        plan.lines = [format_line("TAGMSG", target, trailing=False, tags=tags)]
        return plan
    prefix = attribution(reply)
    action = reply["kind"] == "action" and not prefix  # our own /me; a relayed one is text
    command = "NOTICE" if reply["kind"] == "notice" else "PRIVMSG"
    plan.lines = _text_lines(command, target, reply.get("text"), action, session, prefix, tags)
    return plan


def plan_reply(
    message: Mapping[str, Any],
    room: str | None,
    session: Session,
    caps: Collection[str] = frozenset(),
) -> Plan:
    """What to send for ``message`` arriving on the reply channel of ``room``'s
    conversation (``room`` is ``None`` for the network-wide conversation); ``caps`` are
    the IRCv3 capabilities enabled on the connection."""
    kind = message.get("type")
    if len(message) == 1 and room is not None:
        text = message.get("text")
        if type(text) is str:
            return _plain_reply(text, room, session)
    if is_chat_reply(message):
        return _chat_reply(message, room, session, caps)
    if kind in _TEXT_COMMANDS:
        command = _TEXT_COMMANDS[kind]
        target = _word(message, "target", room)
        action = kind == spec.SEND_ACTION
        return Plan(kind, _text_lines(command, target, message.get("text"), action, session))
    if kind == spec.SEND_JOIN:
        channel = _channel(message, None, session)
        key = _word(message, "key") if message.get("key") is not None else None
        params = (channel, key) if key else (channel,)
        return Plan(kind, [format_line("JOIN", *params, trailing=False)], channel, key)
    if kind == spec.SEND_PART:
        channel = _channel(message, room, session)
        reason = _fit("PART", channel, _free_text(message, "reason"), session)
        line = (
            format_line("PART", channel, reason)
            if reason
            else format_line("PART", channel, trailing=False)
        )
        return Plan(kind, [line], channel=channel)
    if kind == spec.SEND_NICK:
        return Plan(kind, [format_line("NICK", _word(message, "nick"))])
    if kind == spec.SEND_TOPIC:
        channel = _channel(message, room, session)
        topic = _fit("TOPIC", channel, _free_text(message, "topic"), session)
        return Plan(kind, [format_line("TOPIC", channel, topic)])
    if kind == spec.SEND_KICK:
        channel = _channel(message, room, session)
        nick = _word(message, "nick")
        reason = _fit("KICK", f"{channel} {nick}", _free_text(message, "reason"), session)
        return Plan(kind, [format_line("KICK", channel, nick, reason or nick)])
    if kind == spec.SEND_QUIT:
        reason = _fit("QUIT", "", _free_text(message, "reason"), session)
        return Plan(kind, [], quit=reason)
    raise Rejected(f"unknown message type {kind!r}")

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

* the common chat reply ``{"text": ...}`` (no ``type``, or a ``CHAT_TYPES`` one): a
  PRIVMSG to the conversation's room;
* ``irc-client.send.message`` / ``.notice`` / ``.action``: ``text`` to ``target``
  (default: the room);
* ``irc-client.send.join`` (``channel``, ``key``), ``.part`` (``channel``, ``reason``),
  ``.nick`` (``nick``), ``.topic`` (``channel``, ``topic``), ``.kick`` (``channel``,
  ``nick``, ``reason``), ``.quit`` (``reason``); ``channel`` defaults to the room.

Text handling is the policy of ``text.py``: line breaks make separate messages, NUL and
``\\x01`` are removed, identifiers must be single words or the message is rejected.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

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
    command: str, target: str, text: object, action: bool, session: Session
) -> list[str]:
    if not isinstance(text, str):
        raise Rejected("'text' must be a string")
    budget = relay_budget(command, target, session.source_length())
    if action:
        budget -= _ACTION_OVERHEAD
    lines: list[str] = []
    for line in message_lines(text):
        for piece in split_utf8(line, budget):
            body = f"{DELIM}ACTION {piece}{DELIM}" if action else piece
            lines.append(format_line(command, target, body))
    if not lines:
        raise Rejected("'text' is empty once cleaned")
    return lines


def plan_reply(message: Mapping[str, Any], room: str | None, session: Session) -> Plan:
    """What to send for ``message`` arriving on the reply channel of ``room``'s
    conversation (``room`` is ``None`` for the network-wide conversation)."""
    kind = message.get("type")
    if kind is None or kind in spec.CHAT_TYPES:
        if room is None:
            raise Rejected("a chat reply needs a room; use irc-client.send.message with a target")
        lines = _text_lines("PRIVMSG", room, message.get("text"), False, session)
        return Plan(spec.SEND_MESSAGE, lines)
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

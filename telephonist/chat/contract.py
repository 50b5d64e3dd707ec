"""The common chat contract, version 2, in code: event and reply shapes, and their checks.

Theory of operation
-------------------
Every chat-like interface (WebSocket, IRC, email, Slack, any third-party one) publishes
its chat events with the keys of :class:`ChatEvent` besides its own, and accepts a
:class:`ChatReply` on its reply channel. That is the whole promise of "one consumer,
every protocol": a consumer reads ``kind``, ``text``, ``user`` and ``room`` and answers
``{"text": ...}`` without knowing where either goes.

Events. ``kind`` says what happened (:data:`EVENT_KINDS`); ``text`` is plain and safe
to show (``text.py``); ``room``/``user`` are display names and ``room_id``/``user_id``
stable identifiers in the protocol's own namespace (a direct conversation's ``room_id``
never equals a channel's); ``message_id``, ``thread_id`` and ``reply_to`` are the
protocol's own message ids (or ``None``); ``timestamp`` is seconds since the epoch.
For ``edit`` and ``delete`` the ``message_id`` is the message changed; for a
``reaction`` the reacted-to message is ``reply_to`` and the emoji is ``emoji``.

Replies. ``{"text": ...}`` is a message where the event came from. ``kind`` asks for an
``action``, ``notice``, ``reaction`` (``emoji`` on ``reply_to``), ``edit`` or ``delete``
(of ``message_id``); ``thread_id``/``reply_to`` thread it; ``private`` sends it to the
event's user alone (``to``). ``user``/``protocol`` attribute a relayed message to its
author and origin: text-only protocols put the attribution in front of *every* line
(``render.py``). An interface that cannot do a kind sends the reply's ``fallback``
text as a message instead, or, without one, *declines* it: nothing is sent, the counter
``chat_declined_<kind>`` goes up and a warning is logged (``decline.py``).

:func:`make_event` builds a complete event (interfaces use it so no key is forgotten);
:func:`read_event` reads any event leniently (third-party interfaces written for the
first contract carried only ``text``/``user``/``room``); :func:`validate_event` and
:func:`validate_reply` are the strict checks, for tests and for interfaces.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Literal, NotRequired, TypedDict, cast, get_args

from .text import safe_name, safe_text

__all__ = [
    "EVENT_KINDS",
    "REPLY_KINDS",
    "REPLY_TYPES",
    "WEBSOCKET_SUBPROTOCOL",
    "ChatContractError",
    "ChatEvent",
    "ChatReply",
    "EventKind",
    "ReplyKind",
    "is_chat_reply",
    "make_event",
    "read_event",
    "validate_event",
    "validate_reply",
]

EventKind = Literal[
    "message", "action", "notice", "edit", "delete", "reaction", "join", "leave", "topic"
]
ReplyKind = Literal["message", "action", "notice", "reaction", "edit", "delete"]
EVENT_KINDS: tuple[EventKind, ...] = get_args(EventKind)
REPLY_KINDS: tuple[ReplyKind, ...] = get_args(ReplyKind)

#: Reply ``type`` values (besides none at all) under which a chat reply is accepted.
REPLY_TYPES = frozenset({"chat.send", "chat.message", "chat.reply"})

#: The WebSocket subprotocol of the chat JSON protocol (``docs/websocket.md``): a client
#: that offers it and is accepted with it speaks the contract in JSON frames.
WEBSOCKET_SUBPROTOCOL = "telephonist.chat.v2"

_MAX_ID = 512  # message/thread/room/user ids: generous, but bounded
_MAX_MENTIONS = 50


class ChatContractError(ValueError):
    """An event or reply that breaks the contract; the text lists every problem."""


class ChatEvent(TypedDict):
    """The contract keys of an inbound chat event (interfaces add their own keys)."""

    kind: EventKind
    text: str
    room: str
    room_id: str
    user: str
    user_id: str
    is_direct: bool
    is_self: bool
    is_bot: bool
    message_id: str | None
    thread_id: str | None
    reply_to: str | None
    mentions: list[str]
    protocol: str
    timestamp: float
    emoji: NotRequired[str]  # reaction: the emoji (also in ``text``)
    removed: NotRequired[bool]  # reaction: taken back
    reason: NotRequired[str]  # leave: why (part/kick/quit message)


class ChatReply(TypedDict, total=False):
    """What a consumer may send on a chat reply channel (only ``text`` is common)."""

    type: str  # absent, or one of REPLY_TYPES
    kind: ReplyKind
    text: str
    thread_id: str
    reply_to: str
    message_id: str
    emoji: str
    removed: bool  # reaction: taken back
    private: bool
    to: str
    user: str
    user_id: str
    protocol: str
    timestamp: float
    fallback: str


def is_chat_reply(message: Mapping[str, Any]) -> bool:
    """Whether a reply-channel message is a chat reply (no ``type``, or a chat one)."""
    kind = message.get("type")
    return kind is None or (isinstance(kind, str) and kind in REPLY_TYPES)


def make_event(
    protocol: str,
    kind: EventKind,
    *,
    text: str = "",
    room: str,
    user: str,
    room_id: str | None = None,
    user_id: str | None = None,
    is_direct: bool = False,
    is_self: bool = False,
    is_bot: bool = False,
    message_id: str | None = None,
    thread_id: str | None = None,
    reply_to: str | None = None,
    mentions: list[str] | None = None,
    timestamp: float | None = None,
) -> ChatEvent:
    """A complete event: ``text`` made safe, ids defaulting to the display names."""
    return {
        "kind": kind,
        "text": safe_text(text),
        "room": room,
        "room_id": room if room_id is None else room_id,
        "user": safe_name(user),
        "user_id": user if user_id is None else user_id,
        "is_direct": is_direct,
        "is_self": is_self,
        "is_bot": is_bot,
        "message_id": message_id,
        "thread_id": thread_id,
        "reply_to": reply_to,
        "mentions": list(mentions or [])[:_MAX_MENTIONS],
        "protocol": protocol,
        "timestamp": time.time() if timestamp is None else timestamp,
    }


def _str(content: Mapping[str, Any], key: str, default: str = "") -> str:
    value = content.get(key)
    return value if isinstance(value, str) else default


def _opt(content: Mapping[str, Any], key: str) -> str | None:
    value = content.get(key)
    return value if isinstance(value, str) and value else None


def read_event(
    content: Mapping[str, Any], protocol: str, default_kind: EventKind = "message"
) -> ChatEvent:
    """The contract view of any chat event, filling what an interface left out.

    ``protocol`` and ``default_kind`` come from the chat registry (an event of the
    first contract has no ``kind``; a WebSocket connect is a ``join``)."""
    kind = content.get("kind")
    if kind not in EVENT_KINDS:
        kind = default_kind
    text = content.get("text")
    timestamp = content.get("timestamp")
    mentions = content.get("mentions")
    event = make_event(
        _str(content, "protocol", protocol),
        cast(EventKind, kind),
        text=text if isinstance(text, str) else "",
        room=_str(content, "room"),
        user=_str(content, "user"),
        room_id=_opt(content, "room_id"),
        user_id=_opt(content, "user_id"),
        is_direct=content.get("is_direct", content.get("private")) is True,
        is_self=content.get("is_self", content.get("self")) is True,
        is_bot=content.get("is_bot") is True,
        message_id=_opt(content, "message_id"),
        thread_id=_opt(content, "thread_id"),
        reply_to=_opt(content, "reply_to"),
        mentions=[m for m in mentions if isinstance(m, str)] if isinstance(mentions, list) else [],
        timestamp=float(timestamp) if isinstance(timestamp, int | float) else None,
    )
    for key in ("emoji", "reason"):
        if isinstance(content.get(key), str):
            event[key] = content[key]
    if content.get("removed") is True:
        event["removed"] = True
    return event


_EVENT_TYPES: dict[str, type | tuple[type, ...]] = {
    "text": str,
    "room": str,
    "room_id": str,
    "user": str,
    "user_id": str,
    "is_direct": bool,
    "is_self": bool,
    "is_bot": bool,
    "mentions": list,
    "protocol": str,
    "timestamp": (int, float),
}
_OPTIONAL_IDS = ("message_id", "thread_id", "reply_to")


def validate_event(content: Mapping[str, Any]) -> ChatEvent:
    """``content`` if it carries every contract key with the right type and safe text;
    else :class:`ChatContractError` naming every problem."""
    problems: list[str] = []
    if content.get("kind") not in EVENT_KINDS:
        problems.append(f"kind {content.get('kind')!r} is not one of {EVENT_KINDS}")
    for key, types in _EVENT_TYPES.items():
        value = content.get(key)
        number = types == (int, float)
        if not isinstance(value, types) or (number and isinstance(value, bool)):
            problems.append(f"{key} must be {_name(types)}, got {value!r:.80}")
    for key in _OPTIONAL_IDS:
        value = content.get(key, ...)
        if value is ... or not (value is None or (isinstance(value, str) and value)):
            problems.append(f"{key} must be a non-empty str or None, got {value!r:.80}")
        elif isinstance(value, str) and len(value) > _MAX_ID:
            problems.append(f"{key} is longer than {_MAX_ID} characters")
    text = content.get("text")
    if isinstance(text, str) and safe_text(text) != text:
        problems.append("text is not safe_text()")
    user = content.get("user")
    if isinstance(user, str) and safe_name(user) != user:
        problems.append("user is not safe_name()")
    mentions = content.get("mentions")
    if isinstance(mentions, list) and not all(isinstance(m, str) for m in mentions):
        problems.append("mentions must be a list of str")
    if content.get("kind") == "reaction" and not isinstance(content.get("emoji"), str):
        problems.append("a reaction needs emoji")
    if problems:
        raise ChatContractError("; ".join(problems))
    return cast(ChatEvent, content)


def _name(types: type | tuple[type, ...]) -> str:
    if isinstance(types, tuple):
        return " or ".join(t.__name__ for t in types)
    return types.__name__


_REPLY_STRINGS = ("text", "thread_id", "reply_to", "message_id", "emoji", "to", "user",
                  "user_id", "protocol", "fallback")  # fmt: skip


def validate_reply(message: Mapping[str, Any]) -> ChatReply:
    """A chat reply, checked, as a new dict with ``kind`` filled in and its texts made
    safe; :class:`ChatContractError` says what is wrong."""
    if not is_chat_reply(message):
        raise ChatContractError(f"type {message.get('type')!r} is not a chat reply")
    kind = message.get("kind", "message")
    if kind not in REPLY_KINDS:
        raise ChatContractError(f"kind {kind!r} is not one of {REPLY_KINDS}")
    problems = [
        f"{key} must be a str"
        for key in _REPLY_STRINGS
        if key in message and not isinstance(message[key], str)
    ]
    for flag in ("private", "removed"):
        if flag in message and not isinstance(message[flag], bool):
            problems.append(f"{flag} must be a bool")
    stamp = message.get("timestamp")
    if stamp is not None and (isinstance(stamp, bool) or not isinstance(stamp, int | float)):
        problems.append("timestamp must be a number")
    if problems:
        raise ChatContractError("; ".join(problems))
    reply = cast(ChatReply, {k: v for k, v in message.items() if k != "type"})
    reply["kind"] = kind
    if kind in ("message", "action", "notice", "edit") and not isinstance(message.get("text"), str):
        raise ChatContractError(f"a {kind} needs text")
    if kind in ("edit", "delete") and not message.get("message_id"):
        raise ChatContractError(f"a {kind} needs the message_id of the message to change")
    if kind == "reaction":
        emoji = message.get("emoji") or message.get("text")
        if not isinstance(emoji, str) or not emoji.strip() or not message.get("reply_to"):
            raise ChatContractError("a reaction needs emoji and the reply_to it reacts to")
        reply["emoji"] = safe_name(emoji, 32)
    for key in ("text", "fallback"):
        if key in reply:
            reply[key] = safe_text(reply[key])
    if "user" in reply:
        reply["user"] = safe_name(reply["user"])
    return reply

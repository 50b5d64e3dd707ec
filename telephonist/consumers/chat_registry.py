"""Which channels are chat: the registry ChatConsumer routes and reads events by.

Theory of operation
-------------------
The common chat contract (``telephonist.chat``) says what a chat event carries and what
a chat reply channel accepts. What it cannot say is which *channels* carry chat events,
since each interface names its own: that is this registry of ``ChatProtocol`` records
(the message, join and leave channels of a protocol, and what the protocol needs sent on
a join, such as the WebSocket accept). ``ChatConsumer`` routes on every registered
channel, reads each event through ``telephonist.chat.read_event`` with the protocol's
name and the channel's default kind (a WebSocket connect is a ``join``; events of the
first contract carry no ``kind``), and answers with contract replies.

Built-ins are registered below; a third-party protocol registers its own with
``register_chat_protocol`` or, so that worker processes that never import the interface
still know it, with an entry point in the ``telephonist.chat`` group naming a
``ChatProtocol``. A subclass can also narrow or extend its channels with
``chat_channels`` / ``join_channels`` / ``leave_channels``.

Rooms are groups (``room_group(room)``): a connection joins its room's group when it
joins or speaks (which also refreshes the membership) and leaves on leave, so
``say(room, text)`` reaches everyone in the room, whatever protocol they came by. A
direct conversation has a group of its own namespace (``direct_group``): a person
called ``lobby`` talking to the bot in private is never in room ``lobby``. Mail reply
channels join no room unless a consumer asks (``ChatProtocol.joins_rooms``).
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Literal

from ..chat import WEBSOCKET_SUBPROTOCOL, ChatEvent, ChatReply, EventKind, read_event
from ..core.codec import Content
from ..core.names import MAX_NAME_LENGTH
from ..spec import websocket

__all__ = [
    "ChatKind",
    "ChatProtocol",
    "chat_event",
    "chat_protocols",
    "chat_reply",
    "classify",
    "direct_group",
    "join_answer",
    "protocol_of",
    "register_chat_protocol",
    "room_group",
    "unregister_chat_protocol",
]


log = logging.getLogger("telephonist.consumers.chat")

ChatKind = Literal["message", "join", "leave"]


@dataclass(frozen=True)
class ChatProtocol:
    """The chat channels of one protocol."""

    name: str
    message_channels: tuple[str, ...]
    join_channels: tuple[str, ...] = ()
    leave_channels: tuple[str, ...] = ()
    #: Sent on the reply channel when a join is accepted, before ``on_join`` runs.
    join_answer: tuple[Content, ...] = ()
    #: A WebSocket subprotocol to accept when the client offers it (the chat JSON
    #: protocol, ``telephonist.chat.WEBSOCKET_SUBPROTOCOL``).
    subprotocol: str | None = None
    #: Whether a ChatConsumer puts this protocol's reply channels in room groups (so
    #: they hear the room). Email's do not by default: see ``ChatConsumer.room_protocols``.
    joins_rooms: bool = True


_lock = threading.Lock()
_protocols: dict[str, ChatProtocol] = {}
_entry_points_loaded = False


def register_chat_protocol(protocol: ChatProtocol) -> None:
    """Add (or, by the same ``name``, replace) a chat protocol."""
    with _lock:
        _protocols[protocol.name] = protocol


def unregister_chat_protocol(name: str) -> None:
    with _lock:
        _protocols.pop(name, None)


def chat_protocols() -> list[ChatProtocol]:
    """Every registered chat protocol, entry-point ones included."""
    _load_entry_points()
    with _lock:
        return list(_protocols.values())


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for entry in entry_points(group="telephonist.chat"):
        try:
            protocol = entry.load()
        except Exception:
            log.exception("cannot load chat protocol entry point %s", entry.name)
            continue
        if isinstance(protocol, ChatProtocol):
            register_chat_protocol(protocol)
        else:
            log.error("entry point %s is %r, not a ChatProtocol", entry.name, protocol)


def protocol_of(channel: str, protocols: Collection[ChatProtocol]) -> ChatProtocol | None:
    """The registered protocol ``channel`` belongs to, if any."""
    for protocol in protocols:
        if channel in protocol.message_channels or channel in protocol.join_channels:
            return protocol
        if channel in protocol.leave_channels:
            return protocol
    return None


def classify(channel: str, protocols: Collection[ChatProtocol]) -> ChatKind:
    """Whether an event on ``channel`` is a join, a leave or (anything else) a message."""
    for protocol in protocols:
        if channel in protocol.join_channels:
            return "join"
        if channel in protocol.leave_channels:
            return "leave"
    return "message"


def join_answer(
    channel: str, protocols: Collection[ChatProtocol], content: Mapping[str, Any] | None = None
) -> tuple[Content, ...]:
    """What to send on the reply channel when a join on ``channel`` is accepted; the
    protocol's ``subprotocol`` is accepted when the joining client offered it."""
    for protocol in protocols:
        if channel in protocol.join_channels:
            offered = (content or {}).get("subprotocols")
            sub = protocol.subprotocol
            if sub and isinstance(offered, list) and sub in offered:
                return tuple(
                    {**a, "subprotocol": sub} if a.get("type") == "websocket.accept" else a
                    for a in protocol.join_answer
                )
            return protocol.join_answer
    return ()


_UNSAFE = re.compile(r"[^a-zA-Z0-9\-_.]")
_PLAIN = re.compile(r"^[a-zA-Z0-9-]+$")


def room_group(room: str, prefix: str = "chat.") -> str:
    """A valid group name for ``room``, the same for every protocol.

    A *plain* name (letters, digits, ``-``) is used as it is: ``chat.lobby``. Any other
    (``#python``, ``a@b.org``, ``my_room``) gets its unsafe characters as ``_``, then
    ``.`` and 20 hex digits of the name's SHA-256: ``chat._python.1c3e…``. Plain names
    hold neither ``_`` nor ``.`` and hashed ones always hold a ``.``, so a room can never
    be named into another room's group (a room called ``_python.<digest>`` is hashed
    too), and two hashed names meet only by an 80-bit hash collision.
    """
    if _PLAIN.match(room) and len(prefix) + len(room) < MAX_NAME_LENGTH:
        return prefix + room
    safe = _UNSAFE.sub("_", room)
    digest = hashlib.sha256(room.encode("utf-8", "surrogatepass")).hexdigest()[:20]
    keep = MAX_NAME_LENGTH - 1 - len(prefix) - len(digest) - 1
    return f"{prefix}{safe[:keep]}.{digest}"


def direct_group(event: ChatEvent, prefix: str = "chat-direct.") -> str:
    """The group of a direct conversation: its own namespace, per protocol."""
    return room_group(f"{event['protocol']}.{event['room_id']}", prefix)


def chat_event(
    content: Mapping[str, Any], protocol: str, kind: ChatKind, kwargs: Mapping[str, str]
) -> ChatEvent:
    """The contract view of an event of ``protocol`` on a channel of ``kind``.

    A ``room``/``user`` named group of the route wins over the event's own key: routing
    ``path=r"^/chat/(?P<room>\\w+)/$"`` says which room a WebSocket is in better than its
    raw path (what the WebSocket interface puts in ``room``), and lets a browser room
    and ``#room`` on IRC be routed to one name.
    """
    default: EventKind = "message" if kind == "message" else kind
    event = read_event(content, protocol, default)
    if event["kind"] not in _KINDS_OF[kind]:
        event["kind"] = default  # a join channel carries joins, whatever the event says
    for key in ("room", "user"):
        if kwargs.get(key):
            event[key] = kwargs[key]
    return event


_KINDS_OF: dict[ChatKind, tuple[str, ...]] = {
    "join": ("join",),
    "leave": ("leave",),
    "message": ("message", "action", "notice", "edit", "delete", "reaction", "topic"),
}


def chat_reply(text: str | Mapping[str, Any], **keys: Any) -> ChatReply:
    """``"hi"`` -> ``{"text": "hi"}`` plus ``keys``; a mapping is sent as it is."""
    if isinstance(text, str):
        return {"text": text, **keys}  # type: ignore[typeddict-item]
    return {**text, **keys}  # type: ignore[typeddict-item]


# Built-in protocols, with the channel names of their message specs (IRC:
# telephonist/interfaces/irc/spec.py, not imported here because importing it loads the
# IRC interface and its optional extra). An interface whose names change re-registers
# under the same name.
register_chat_protocol(
    ChatProtocol(
        "websocket",
        message_channels=(websocket.RECEIVE,),
        join_channels=(websocket.CONNECT,),
        leave_channels=(websocket.DISCONNECT,),
        join_answer=({"type": websocket.ACCEPT},),
        subprotocol=WEBSOCKET_SUBPROTOCOL,
    )
)
register_chat_protocol(
    ChatProtocol(
        "irc",
        message_channels=("irc-client.receive", "irc-client.topic"),
        join_channels=("irc-client.join",),
        leave_channels=("irc-client.part", "irc-client.kick", "irc-client.quit"),
    )
)
# A mail's reply channel in a room would mail the room's chatter to whoever wrote (or
# forged) the From: a reflector. It joins rooms only where a consumer says so.
register_chat_protocol(
    ChatProtocol("email", message_channels=("email.receive",), joins_rooms=False)
)
# Slack (telephonist/interfaces/slack/spec.py): slack.app_mention is left out, since
# Slack sends the same words as a slack.message too.
register_chat_protocol(
    ChatProtocol(
        "slack",
        message_channels=("slack.message", "slack.reaction"),
        join_channels=("slack.join",),
        leave_channels=("slack.leave",),
    )
)

"""The common chat contract: which channels are chat, and the helpers ChatConsumer uses.

Theory of operation
-------------------
Design section 4's common chat contract: every chat-like inbound event carries ``text``,
``user`` and ``room`` besides its own keys, and every chat-like interface turns
``{"text": ...}`` on its reply channel into the natural answer (a WebSocket frame, a
PRIVMSG, a Slack post, a reply mail). So a ChatConsumer never looks at the protocol: it
reads those three keys, calls ``on_chat(text, user, room)``, and its ``reply(text)`` and
``say(room, text)`` send ``{"text": ...}``.

Which channels are chat is a registry of ``ChatProtocol`` records (message, join and
leave channels, and what the protocol needs sent on a join, such as the WebSocket
accept). Built-ins are registered below; a third-party protocol registers its own with
``register_chat_protocol`` or, so that worker processes that never import the interface
still know it, with an entry point in the ``telephonist.chat`` group naming a
``ChatProtocol``. A subclass can also narrow or extend its channels with
``chat_channels`` / ``join_channels`` / ``leave_channels``.

Rooms are groups (``room_group(room)``): a connection joins its room's group when it
joins or speaks (which also refreshes the membership) and leaves on leave, so
``say(room, text)`` reaches everyone in the room, whatever protocol they came by.
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

from ..core.codec import Content
from ..core.names import MAX_NAME_LENGTH
from ..spec import websocket

__all__ = [
    "ChatKind",
    "ChatProtocol",
    "chat_fields",
    "chat_protocols",
    "classify",
    "join_answer",
    "register_chat_protocol",
    "room_group",
    "text_message",
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


def classify(channel: str, protocols: Collection[ChatProtocol]) -> ChatKind:
    """Whether an event on ``channel`` is a join, a leave or (anything else) a message."""
    for protocol in protocols:
        if channel in protocol.join_channels:
            return "join"
        if channel in protocol.leave_channels:
            return "leave"
    return "message"


def join_answer(channel: str, protocols: Collection[ChatProtocol]) -> tuple[Content, ...]:
    for protocol in protocols:
        if channel in protocol.join_channels:
            return protocol.join_answer
    return ()


_UNSAFE = re.compile(r"[^a-zA-Z0-9\-_.]")


def room_group(room: str, prefix: str = "chat.") -> str:
    """A valid group name for ``room``, the same for every protocol.

    Room names carry characters group names cannot (``#python``, ``a@b.org``): those
    become ``_`` and a short hash of the real name is appended, so two rooms that only
    differ there (``#a`` and ``&a``) still get two groups.
    """
    safe = _UNSAFE.sub("_", room)
    if safe == room and len(prefix) + len(room) < MAX_NAME_LENGTH:
        return prefix + room
    digest = hashlib.sha1(room.encode("utf-8")).hexdigest()[:10]
    keep = MAX_NAME_LENGTH - 1 - len(prefix) - len(digest) - 1
    return f"{prefix}{safe[:keep]}.{digest}"


def chat_fields(content: Mapping[str, Any], kwargs: Mapping[str, str]) -> tuple[Any, str, str]:
    """``(text, user, room)`` of an event.

    A ``room``/``user`` named group of the route wins over the event's own key: routing
    ``path=r"^/chat/(?P<room>\\w+)/$"`` says which room a WebSocket is in better than its
    raw path (what the WebSocket interface puts in ``room``), and lets a browser room
    and ``#room`` on IRC be routed to one name.
    """
    user = content.get("user")
    room = content.get("room")
    return (
        content.get("text"),
        kwargs.get("user") or (user if isinstance(user, str) else ""),
        kwargs.get("room") or (room if isinstance(room, str) else ""),
    )


def text_message(text: str | Mapping[str, Any]) -> Content:
    """``"hi"`` -> ``{"text": "hi"}``; a mapping is sent as it is (protocol extras)."""
    return {"text": text} if isinstance(text, str) else dict(text)


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
    )
)
register_chat_protocol(
    ChatProtocol(
        "irc",
        message_channels=("irc-client.receive",),
        join_channels=("irc-client.join",),
        leave_channels=("irc-client.part",),
    )
)
register_chat_protocol(ChatProtocol("email", message_channels=("email.receive",)))
register_chat_protocol(ChatProtocol("slack", message_channels=("slack.message",)))

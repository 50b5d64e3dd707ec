"""The WebSocket message spec in code: channel names and the shape of every message.

ASGI 3 ``www`` names and keys (``websocket.connect``/``receive``/``disconnect`` in,
``websocket.accept``/``send``/``close`` out), with what a channel layer adds: the
connect event carries the connection scope's keys, every event carries ``path`` (so
route filters on the path match a connection's frames, as in Channels 1.x), text frames
carry the common chat keys ``user`` and ``room``, and every event reaches the consumer
with ``reply_channel`` (str) and ``order`` (int) besides the keys below (the interface
server adds them when the interface sends it). ``docs/websocket.md`` is the prose version;
``tests/http/test_spec.py`` checks that the two list the same keys. Every event's
``type`` is its channel name.

Besides these typed replies the reply channel takes the Channels 1.x form (``accept``,
``text``/``bytes``, ``close`` keys in one untyped dict) and the common chat reply
``{"text": ...}``; see ``telephonist.interfaces.websocket.messages``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Literal, NotRequired, TypedDict

from .www import WwwScope

__all__ = [
    "ACCEPT",
    "CLOSE",
    "CONNECT",
    "DISCONNECT",
    "EVENT_CHANNELS",
    "RECEIVE",
    "SEND",
    "WebSocketAcceptEvent",
    "WebSocketCloseEvent",
    "WebSocketConnectEvent",
    "WebSocketDisconnectEvent",
    "WebSocketReceiveEvent",
    "WebSocketScope",
    "WebSocketSendEvent",
]

CONNECT: Final = "websocket.connect"
"""Channel (and ``type``) of a handshake waiting for the consumer's answer."""

RECEIVE: Final = "websocket.receive"
"""Channel (and ``type``) of a message (text or binary) from the client."""

DISCONNECT: Final = "websocket.disconnect"
"""Channel (and ``type``) of the last event of a connection."""

ACCEPT: Final = "websocket.accept"
SEND: Final = "websocket.send"
CLOSE: Final = "websocket.close"

EVENT_CHANNELS = (CONNECT, RECEIVE, DISCONNECT)


class WebSocketScope(WwwScope):
    """The ASGI ``websocket`` connection scope (without ``type``, ``asgi`` and
    ``subprotocols``, which the connect event carries)."""


class WebSocketConnectEvent(WebSocketScope):
    type: Literal["websocket.connect"]
    subprotocols: list[str]  # offered in Sec-WebSocket-Protocol; [] if none


class WebSocketReceiveEvent(TypedDict):
    """A text message has ``text`` and the chat contract's keys; a binary one ``bytes``."""

    type: Literal["websocket.receive"]
    path: str
    text: NotRequired[str]
    bytes: NotRequired[bytes]
    # The chat contract (telephonist.chat, docs/consumers.md); text messages only.
    user: NotRequired[str]  # "host:port" of the client, or "unix"
    room: NotRequired[str]  # the path
    kind: NotRequired[str]
    room_id: NotRequired[str]
    user_id: NotRequired[str]
    is_direct: NotRequired[bool]
    is_self: NotRequired[bool]
    is_bot: NotRequired[bool]
    message_id: NotRequired[str | None]
    thread_id: NotRequired[str | None]
    reply_to: NotRequired[str | None]
    mentions: NotRequired[list[str]]
    protocol: NotRequired[str]
    timestamp: NotRequired[float]
    emoji: NotRequired[str]  # the JSON protocol's reactions
    removed: NotRequired[bool]
    nonce: NotRequired[str]  # the JSON protocol: the client's, echoed in ack/error


class WebSocketDisconnectEvent(TypedDict):
    type: Literal["websocket.disconnect"]
    path: str
    code: int  # the peer's close code, else ours, else 1006


class WebSocketAcceptEvent(TypedDict):
    type: Literal["websocket.accept"]
    subprotocol: NotRequired[str | None]  # one of those offered
    headers: NotRequired[Sequence[Sequence[bytes | str]]]  # [name, value] pairs


class WebSocketSendEvent(TypedDict):
    """Exactly one of ``text`` and ``bytes``."""

    type: Literal["websocket.send"]
    text: NotRequired[str]
    bytes: NotRequired[bytes]


class WebSocketCloseEvent(TypedDict):
    type: Literal["websocket.close"]
    code: NotRequired[int]  # default 1000; before the accept, any code refuses with 403
    reason: NotRequired[str]  # default ""; cut to 123 bytes

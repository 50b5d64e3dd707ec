"""The chat contract on a WebSocket: the JSON protocol, and plain text frames. Pure.

Theory of operation
-------------------
A browser that offers the subprotocol ``telephonist.chat.v2``
(``telephonist.chat.WEBSOCKET_SUBPROTOCOL``) and is accepted with it speaks the common
chat contract in JSON frames; one that does not gets the first contract's plain text
frames. :class:`ChatSocket` holds one JSON connection's side of it:

* after the accept the server says ``hello``: the connection's ``user_id`` and the
  server's limit for ``text``, so a page enforces the same limit the server does;
* a client frame ``{"kind", "text", "reply_to", "thread_id", "message_id", "emoji",
  "removed", "nonce"}`` becomes the contract keys of a ``websocket.receive`` event
  (:meth:`ChatSocket.decode`): text made safe, a fresh ``message_id`` for a message or
  an action, ``user_id`` and ``timestamp`` from the server, never from the client. A
  frame that breaks the rules gets an ``error`` frame with a machine ``code`` and a
  human ``text``, and the connection stays open;
* once the event is on the layer the client gets ``ack`` with its ``nonce`` and the
  ``message_id`` (so a page can show "sent" and recognise its own line);
* a chat reply becomes an ``event`` frame with the reply's contract keys and
  ``is_self`` (the reply's ``user_id`` is this connection's); a ``chat.state`` message
  (what a consumer tells pages about the room: members, history, topic) becomes a
  ``state`` frame. JSON can carry every kind, so nothing is declined here.

Plain frames (:func:`plain_reply`): a relayed message is rendered with its attribution
on every line (``[irc] <ann> hi``); reactions, edits and deletes send their
``fallback`` or are declined, like any text-only protocol.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from typing import Any, cast

from ...chat import (
    WEBSOCKET_SUBPROTOCOL,
    ChatContractError,
    EventKind,
    fallback_for,
    make_event,
    rendered_lines,
    safe_name,
    validate_reply,
)

__all__ = ["CLIENT_KINDS", "STATE_TYPE", "ChatFrameError", "ChatSocket", "plain_reply"]

#: What a browser may send: it cannot post joins, leaves or topics for others.
CLIENT_KINDS: frozenset[str] = frozenset({"message", "action", "edit", "delete", "reaction"})
STATE_TYPE = "chat.state"
_MAX_ID = 200
_MAX_NONCE = 64
_EVENT_KEYS = (
    *("kind", "text", "user", "user_id", "protocol", "message_id", "reply_to", "thread_id"),
    *("emoji", "removed", "timestamp", "private", "room", "fallback"),
)
_SENTENCES = {
    "bad_frame": "The server could not read that message.",
    "unknown_kind": "The server does not know what to do with that.",
    "too_large": "That message is too long: at most {limit} characters are allowed.",
    "empty": "There was nothing to send.",
}


class ChatFrameError(ValueError):
    """A client frame that breaks the JSON protocol; ``code`` names it for pages."""

    def __init__(self, code: str, limit: int = 0) -> None:
        super().__init__(code)
        self.code = code
        self.sentence = _SENTENCES[code].format(limit=limit)


def _dump(frame: Mapping[str, Any]) -> str:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"), default=_jsonable)


def _jsonable(value: object) -> object:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    raise TypeError(f"{type(value).__name__} cannot be sent as JSON")


class ChatSocket:
    """One connection's side of the JSON chat protocol."""

    def __init__(self, max_text: int) -> None:
        self.user_id = "ws-" + secrets.token_urlsafe(9)
        self.max_text = max_text
        self._sent = 0

    def hello(self) -> str:
        frame = {
            "type": "hello",
            "protocol": WEBSOCKET_SUBPROTOCOL,
            "user_id": self.user_id,
            "max_text": self.max_text,
        }
        return _dump(frame)

    def error(self, error: ChatFrameError, nonce: object = None) -> str:
        frame: dict[str, Any] = {"type": "error", "code": error.code, "text": error.sentence}
        if isinstance(nonce, str):
            frame["nonce"] = nonce[:_MAX_NONCE]
        return _dump(frame)

    def ack(self, event: Mapping[str, Any]) -> str | None:
        if not isinstance(event.get("nonce"), str):
            return None
        return _dump({"type": "ack", "nonce": event["nonce"], "message_id": event["message_id"]})

    def _id(self, frame: Mapping[str, Any], key: str) -> str | None:
        value = frame.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str) or len(value) > _MAX_ID:
            raise ChatFrameError("bad_frame")
        return value

    def decode(self, payload: str, room: str, user: str) -> dict[str, Any]:
        """The contract keys of a client frame (raises :class:`ChatFrameError`)."""
        try:
            frame = json.loads(payload)
        except ValueError:
            raise ChatFrameError("bad_frame") from None
        if not isinstance(frame, dict):
            raise ChatFrameError("bad_frame")
        kind = frame.get("kind", "message")
        if kind not in CLIENT_KINDS:
            raise ChatFrameError("unknown_kind")
        text = frame.get("text", "")
        emoji = frame.get("emoji")
        if not isinstance(text, str) or (emoji is not None and not isinstance(emoji, str)):
            raise ChatFrameError("bad_frame")
        if len(text) > self.max_text:
            raise ChatFrameError("too_large", self.max_text)
        message_id = self._id(frame, "message_id")
        if kind in ("message", "action"):
            if not text.strip():
                raise ChatFrameError("empty")
            self._sent += 1
            message_id = f"{self.user_id}.{self._sent}"
        elif kind in ("edit", "delete") and message_id is None:
            raise ChatFrameError("bad_frame")
        elif kind == "reaction":
            emoji = safe_name(emoji or text, 32)
            if not emoji or self._id(frame, "reply_to") is None:
                raise ChatFrameError("bad_frame")
            text = emoji
        event = dict(
            make_event(
                "websocket",
                cast(EventKind, kind),
                text=text,
                room=room,
                user=user,
                room_id=room,
                user_id=self.user_id,
                message_id=message_id,
                thread_id=self._id(frame, "thread_id"),
                reply_to=self._id(frame, "reply_to"),
                timestamp=time.time(),
            )
        )
        if kind == "reaction":
            event["emoji"] = emoji
            event["removed"] = frame.get("removed") is True
        nonce = frame.get("nonce")
        if isinstance(nonce, str) and nonce:
            event["nonce"] = nonce[:_MAX_NONCE]
        return event

    def encode(self, message: Mapping[str, Any]) -> str:
        """The frame for a chat reply or a ``chat.state`` message (raises
        ``ChatContractError`` for a reply that breaks the contract)."""
        if message.get("type") == STATE_TYPE:
            return _dump({**{k: v for k, v in message.items() if k != "type"}, "type": "state"})
        reply = validate_reply(message)
        frame: dict[str, Any] = {"type": "event"}
        for key in _EVENT_KEYS:
            if key in reply:
                frame[key] = reply[key]  # type: ignore[literal-required]
        frame["is_self"] = reply.get("user_id") == self.user_id
        return _dump(frame)


def plain_reply(message: Mapping[str, Any], supported: frozenset[str]) -> tuple[str | None, str]:
    """A chat reply as one plain text frame: ``(text, outcome)`` where outcome is
    ``"native"``, ``"fallback"`` or ``"declined"`` (text ``None``). A first-contract
    ``{"text": ...}`` is sent as it is."""
    if set(message) <= {"text", "type"}:
        text = message.get("text")
        if not isinstance(text, str):
            raise ChatContractError("text must be a str")
        return text, "native"
    outcome = fallback_for(validate_reply(message), supported)
    if outcome.reply is None:
        return None, "declined"
    return "\n".join(rendered_lines(outcome.reply)), "fallback" if outcome.fallback else "native"

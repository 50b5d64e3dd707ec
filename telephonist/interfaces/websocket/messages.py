"""What a consumer may send on a WebSocket's reply channel, parsed into one action.

Three dialects are accepted, because three kinds of consumers exist:

* ASGI 3: ``websocket.accept`` (``subprotocol``, ``headers``), ``websocket.send``
  (``text`` or ``bytes``), ``websocket.close`` (``code``, ``reason``);
* Channels 1.x (the 2016 design this project revives): an untyped dict with
  ``accept``, ``text``, ``bytes`` and ``close`` keys, several at once;
* the common chat contract: ``{"text": ...}``, which is simply the Channels 1 form
  with one key, so a chat consumer written for IRC or Slack answers a browser too.

Parsing is pure; the protocol applies the actions in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...spec.websocket import ACCEPT, CLOSE, SEND
from ..base import ABORT

__all__ = ["Accept", "Action", "Close", "ReplyError", "Send", "is_wire_code", "parse_reply"]


class ReplyError(ValueError):
    """A reply message that cannot be applied."""


@dataclass(frozen=True, slots=True)
class Accept:
    subprotocol: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Send:
    data: bytes | str


@dataclass(frozen=True, slots=True)
class Close:
    code: int = 1000
    reason: str = ""
    #: Set for the host's abort: the worker is gone (1011 open, 502 in the handshake).
    aborted: bool = False


Action = Accept | Send | Close


#: Close codes that may appear in a close frame (RFC 6455 7.4; 1004-1006 and 1015 are
#: reserved for reporting, never sent).
_WIRE = {1000, 1001, 1002, 1003, *range(1007, 1015), *range(3000, 5000)}


def _code(value: Any) -> int:
    # Any int is taken here: before the handshake completes every close is an HTTP 403
    # (the Dispatcher's no-route answer sends code 403, as Channels did), and the protocol
    # checks ``is_wire_code`` for an open socket.
    if value is True or value is None:
        return 1000
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ReplyError(f"close code must be an int, got {value!r}")


def is_wire_code(code: int) -> bool:
    return code in _WIRE


def _headers(value: Any) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for pair in value or []:
        if not isinstance(pair, list | tuple) or len(pair) != 2:
            raise ReplyError(f"header {pair!r} is not a [name, value] pair")
        name, val = (p.decode("latin-1") if isinstance(p, bytes) else str(p) for p in pair)
        if any(c in name + val for c in "\r\n\0") or not name:
            raise ReplyError(f"header {name!r} has a forbidden character")
        out.append((name, val))
    return out


def _send(message: dict[str, Any]) -> Send:
    text, data = message.get("text"), message.get("bytes")
    if text is not None and data is not None:
        raise ReplyError("send has both text and bytes")
    if text is not None:
        if not isinstance(text, str):
            raise ReplyError("text must be a str")
        return Send(text)
    if isinstance(data, bytes | bytearray):
        return Send(bytes(data))
    raise ReplyError("send needs text or bytes")


def parse_reply(message: dict[str, Any]) -> list[Action]:
    """The actions ``message`` asks for, in the order to apply them."""
    kind = message.get("type")
    if kind == ACCEPT:
        sub = message.get("subprotocol")
        if sub is not None and not isinstance(sub, str):
            raise ReplyError("subprotocol must be a str")
        return [Accept(sub, _headers(message.get("headers")))]
    if kind == SEND:
        return [_send(message)]
    if kind == CLOSE:
        reason = message.get("reason") or ""
        if not isinstance(reason, str):
            raise ReplyError("reason must be a str")
        return [Close(_code(message.get("code", 1000)), reason)]
    if kind == ABORT:
        return [Close(1011, "worker gone", aborted=True)]
    if kind is not None and kind != "chat.reply":
        raise ReplyError(f"unexpected reply type {kind!r}")
    # Channels 1.x / chat form: any of accept, text|bytes, close, applied in that order.
    actions: list[Action] = []
    if message.get("accept"):
        actions.append(Accept())
    if "text" in message or "bytes" in message:
        actions.append(_send({k: message[k] for k in ("text", "bytes") if k in message}))
    if message.get("close"):
        actions.append(Close(_code(message["close"])))
    if not actions:
        raise ReplyError("reply has none of accept, text, bytes, close")
    return actions

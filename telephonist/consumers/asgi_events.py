"""Between layer messages and an ASGI 3 application: the scope, ``receive``'s events,
and which sends end a connection. Pure functions, no I/O.

On a channel layer there is no separate scope object: the first event of a connection
(``websocket.connect``, the first ``http.request``) carries the scope's keys, and every
event carries ``reply_channel``, ``order`` and routing keys (``path``, the chat
contract's ``user``/``room``) besides its ASGI ones (``telephonist.spec``). An
application must see what an ASGI server would give it, so the scope is rebuilt with
ASGI's types (tuples, not msgpack's lists) and each event is cut down to its ASGI keys:
a Channels consumer reading ``event["user"]`` must not find the client's address there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ..spec import http, websocket

__all__ = ["FIRST_EVENTS", "asgi_event", "asgi_scope", "ends_connection", "scope_type"]

ASGI_VERSION: Final = {"version": "3.0", "spec_version": "2.3"}

#: The event that opens a connection, by the scope type it opens.
FIRST_EVENTS: Final = {websocket.CONNECT: "websocket", http.REQUEST: "http"}

_SCOPE_KEYS = (
    "http_version",
    "scheme",
    "path",
    "raw_path",
    "query_string",
    "root_path",
)

#: The keys ASGI 3 defines for each event an application receives.
_EVENT_KEYS: Final[Mapping[str, tuple[str, ...]]] = {
    websocket.CONNECT: (),
    websocket.RECEIVE: ("bytes", "text"),
    websocket.DISCONNECT: ("code", "reason"),
    http.REQUEST: ("body", "more_body"),
    http.DISCONNECT: (),
}


def scope_type(event_type: str) -> str | None:
    """``"websocket"`` or ``"http"`` for a connection's first event, else ``None``."""
    return FIRST_EVENTS.get(event_type)


def asgi_scope(first: Mapping[str, Any]) -> dict[str, Any]:
    """The ASGI 3 connection scope of the connection whose first event is ``first``."""
    kind = scope_type(str(first.get("type")))
    if kind is None:
        raise ValueError(f"{first.get('type')!r} does not open a connection")
    scope: dict[str, Any] = {"type": kind, "asgi": dict(ASGI_VERSION)}
    for key in _SCOPE_KEYS:
        if key in first:
            scope[key] = first[key]
    scope.setdefault("path", "/")
    scope.setdefault("root_path", "")
    scope.setdefault("query_string", b"")
    if "raw_path" not in scope:
        scope["raw_path"] = scope["path"].encode("utf-8")
    scope["headers"] = [(bytes(n), bytes(v)) for n, v in first.get("headers", ())]
    client, server = first.get("client"), first.get("server")
    scope["client"] = tuple(client) if client else None
    scope["server"] = tuple(server) if server else None
    if kind == "http":
        scope["method"] = str(first.get("method", "GET")).upper()
    else:
        scope["subprotocols"] = list(first.get("subprotocols", ()))
    scope["extensions"] = {}
    return scope


def asgi_event(message: Mapping[str, Any]) -> dict[str, Any]:
    """``message`` as an ASGI server hands it to ``receive()``: its ASGI keys only."""
    kind = str(message.get("type"))
    keys = _EVENT_KEYS.get(kind)
    if keys is None:
        return dict(message)  # a type ASGI does not define: the application's business
    event: dict[str, Any] = {"type": kind}
    for key in keys:
        if key in message:
            event[key] = message[key]
    if kind == http.REQUEST:
        event.setdefault("body", b"")
        event.setdefault("more_body", False)
    elif kind == websocket.DISCONNECT:
        event.setdefault("code", 1005)
    return event


def ends_connection(sent: Mapping[str, Any]) -> bool:
    """Whether an application's ``send`` of ``sent`` completes its side of the
    connection (a WebSocket close, the last piece of an HTTP response)."""
    kind = sent.get("type")
    if kind == websocket.CLOSE:
        return True
    return kind == http.RESPONSE_BODY and not sent.get("more_body", False)

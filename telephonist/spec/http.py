"""The HTTP message spec in code: channel names and the shape of every message.

ASGI 3 ``www`` names and keys (``http.request``, ``http.disconnect``,
``http.response.start``, ``http.response.body``, and on HTTP/2 the
``http.response.trailers`` extension), with two differences a channel layer
needs: the first ``http.request`` of a request carries the connection scope's keys
(there is no separate scope object on a layer), and every event reaches the consumer
with ``reply_channel`` (str) and ``order`` (int) besides the keys below: the interface
server adds them when the interface sends the event (``InterfaceHost.send_event``),
so the event types here are what the interface builds. ``docs/http.md`` is the prose
version; ``tests/http/test_spec.py`` checks that the two list the same keys. Every
event's ``type`` is its channel name.

The interface is ``telephonist.interfaces.http``; nothing here imports it, Twisted or
h11.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Literal, NotRequired, TypedDict

from .www import WwwScope

__all__ = [
    "DISCONNECT",
    "EVENT_CHANNELS",
    "REQUEST",
    "RESPONSE_BODY",
    "RESPONSE_START",
    "RESPONSE_TRAILERS",
    "HTTPBodyEvent",
    "HTTPDisconnectEvent",
    "HTTPRequestEvent",
    "HTTPResponseBodyEvent",
    "HTTPResponseStartEvent",
    "HTTPResponseTrailersEvent",
    "HTTPRouting",
    "HTTPScope",
]

REQUEST: Final = "http.request"
"""Channel (and ``type``) of a request: its head and first body chunk, then more chunks."""

DISCONNECT: Final = "http.disconnect"
"""Channel (and ``type``) of the event that says a request ended without its response."""

RESPONSE_START: Final = "http.response.start"
"""Reply ``type``: status and headers."""

RESPONSE_BODY: Final = "http.response.body"
"""Reply ``type``: a piece of the body (``more_body`` for more)."""

RESPONSE_TRAILERS: Final = "http.response.trailers"
"""Reply ``type`` (ASGI extension, HTTP/2 only): trailing headers after the last body."""

#: The ``extensions`` scope key's value on HTTP/2: the trailers extension is offered.
TRAILERS_EXTENSION: Final = "http.response.trailers"

EVENT_CHANNELS = (REQUEST, DISCONNECT)


class HTTPRouting(TypedDict):
    """The short scope keys repeated in every chunk of a request, so that route filters
    match each chunk the same way."""

    method: str  # upper case
    path: str
    scheme: str
    http_version: str
    query_string: bytes
    root_path: str


class HTTPScope(WwwScope):
    """The ASGI ``http`` connection scope (without ``type`` and ``asgi``)."""

    method: str
    # ASGI extensions the server offers: {"http.response.trailers": {}} on HTTP/2
    extensions: NotRequired[dict[str, dict[str, str]]]


class HTTPRequestEvent(HTTPScope):
    """The first ``http.request`` of a request (``order`` 0); a body that fits one
    chunk comes whole in it."""

    type: Literal["http.request"]
    body: bytes  # at most body_chunk_bytes; b"" if none
    more_body: bool


class HTTPBodyEvent(HTTPRouting):
    """A further ``http.request`` of a streamed body (``order`` 1, 2, ...)."""

    type: Literal["http.request"]
    body: bytes
    more_body: bool


class HTTPDisconnectEvent(TypedDict):
    """``http.disconnect``: the request ended without a complete response."""

    type: Literal["http.disconnect"]


class HTTPResponseStartEvent(TypedDict):
    """``http.response.start`` on the reply channel."""

    type: Literal["http.response.start"]
    status: int  # 200 to 599
    # [name, value] pairs; bytes, or str taken as latin-1
    headers: NotRequired[Sequence[Sequence[bytes | str]]]
    trailers: NotRequired[bool]  # default False; True: http.response.trailers follows


class HTTPResponseBodyEvent(TypedDict):
    """``http.response.body`` on the reply channel."""

    type: Literal["http.response.body"]
    body: NotRequired[bytes]  # default b""
    more_body: NotRequired[bool]  # default False


class HTTPResponseTrailersEvent(TypedDict):
    """``http.response.trailers`` on the reply channel, after the last body message of a
    response started with ``trailers=True`` (only where the scope offers the extension)."""

    type: Literal["http.response.trailers"]
    headers: NotRequired[Sequence[Sequence[bytes | str]]]
    more_trailers: NotRequired[bool]  # default False

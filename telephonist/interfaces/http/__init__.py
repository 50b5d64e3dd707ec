"""The ``http`` interface: HTTP/1.1 (h11 on Twisted) and WebSocket (Autobahn) on one
port, speaking ASGI 3 ``www`` messages over the channel layer. See ``docs/http.md``.

``HttpInterface`` is imported on first use, so that ``spec`` (the message names and
shapes) and ``mounts`` (paths other interfaces serve on this port) import without the
``http`` extra (Twisted, h11, Autobahn): consumers and other interfaces use them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import HttpConfig

if TYPE_CHECKING:
    from .interface import HttpInterface

__all__ = ["HttpConfig", "HttpInterface"]


def __getattr__(name: str) -> Any:
    if name == "HttpInterface":
        from .interface import HttpInterface

        return HttpInterface
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

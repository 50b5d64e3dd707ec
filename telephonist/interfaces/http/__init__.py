"""The ``http`` interface: HTTP/1.1 (h11 on Twisted) and WebSocket (Autobahn) on one
port, speaking ASGI 3 ``www`` messages over the channel layer. See ``docs/http.md``."""

from .config import HttpConfig
from .interface import HttpInterface

__all__ = ["HttpConfig", "HttpInterface"]

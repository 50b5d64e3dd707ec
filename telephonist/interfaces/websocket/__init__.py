"""WebSocket on the ``http`` interface's port (HTTP upgrade, Autobahn). There is no
separate ``websocket`` interface: ``HttpInterface`` serves both; this package holds the
WebSocket half (settings, reply parsing, origin policy, the Autobahn protocol)."""

from .config import WebSocketConfig

__all__ = ["WebSocketConfig"]

"""Control exceptions a consumer raises to tell the Dispatcher what to do."""

from __future__ import annotations

__all__ = ["ConsumeLater", "DenyConnection", "NoHandler"]


class DenyConnection(Exception):
    """Refuse the connection (or request): the Dispatcher sends the protocol's refusal
    on the reply channel (WebSocket: close 403 before the handshake completes)."""


class ConsumeLater(Exception):
    """Not now: the Dispatcher puts the message back on its channel with a retry count,
    and drops it (counted, logged) after ``consume_later_limit`` retries."""


class NoHandler(LookupError):
    """A class-based consumer has no method for the message it was given."""

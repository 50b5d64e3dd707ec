"""The common chat contract (version 2): one import for every chat-like interface.

Interfaces, built-in and third-party (a Slack interface, a plugin), build their events
with :func:`make_event`, check what consumers send with :func:`validate_reply`, render
attributed text with :func:`attribution`/:func:`rendered_lines`, clean text with
:func:`safe_text`, and answer a reply kind they cannot do with :func:`degrade`.
Consumers get the same types (``telephonist.consumers.ChatConsumer`` builds on them).
``docs/consumers.md`` ("The chat contract") is the prose version.

This package imports nothing above ``telephonist.core``, so any interface may use it.
"""

from .contract import (
    EVENT_KINDS,
    REPLY_KINDS,
    REPLY_TYPES,
    WEBSOCKET_SUBPROTOCOL,
    ChatContractError,
    ChatEvent,
    ChatReply,
    EventKind,
    ReplyKind,
    is_chat_reply,
    make_event,
    read_event,
    validate_event,
    validate_reply,
)
from .decline import Degraded, RateLimitedLog, degrade, fallback_for
from .render import PROTOCOL_LABELS, attribution, label, rendered_lines
from .text import MAX_NAME_CHARS, excerpt, safe_name, safe_text

__all__ = [
    "EVENT_KINDS",
    "MAX_NAME_CHARS",
    "PROTOCOL_LABELS",
    "REPLY_KINDS",
    "REPLY_TYPES",
    "WEBSOCKET_SUBPROTOCOL",
    "ChatContractError",
    "ChatEvent",
    "ChatReply",
    "Degraded",
    "EventKind",
    "RateLimitedLog",
    "ReplyKind",
    "attribution",
    "degrade",
    "excerpt",
    "fallback_for",
    "is_chat_reply",
    "label",
    "make_event",
    "read_event",
    "rendered_lines",
    "safe_name",
    "safe_text",
    "validate_event",
    "validate_reply",
]

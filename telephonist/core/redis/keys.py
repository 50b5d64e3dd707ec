"""Key layout and the wire envelope: pure functions, no I/O.

Keys (``P`` is the layer's ``prefix``; the part in braces is the Redis Cluster hash tag,
so every key that one script touches for one channel or process shares a slot):

==========================  ====================================================
``P:c:{channel}``           list of envelopes of a normal channel
``P:p:{tag}``               list: the inbox of one process (all its ``!`` channels)
``P:n:{tag}``               hash: channel name -> messages queued for that
                            process-specific channel (capacity is per channel)
``P:g:{group}``             sorted set: member channel -> membership expiry (ms)
==========================  ====================================================

A process ``tag`` is the last ``TOKEN_LENGTH`` characters before the ``!``: ``new_channel``
writes ``<prefix><token>!<local>`` with a token of exactly that length, so any sender can
find a process's inbox from a channel name alone, whatever prefix the name was made with,
and all of one process's channels share one inbox and one blocking pop.

An envelope is ``b"<expires_ms>|<channels>|<msgpack payload>"``: ``channels`` is empty on
a normal channel's list, one full channel name on an inbox, or a comma-separated list of
them when a group send delivers one copy for several channels of the same process. Text
framing lets the Lua scripts build and inspect envelopes with plain string functions;
names cannot contain ``|`` or ``,``, so the framing is unambiguous.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import NamedTuple

from ..exceptions import MalformedMessage

__all__ = [
    "TOKEN_LENGTH",
    "Envelope",
    "KeyLayout",
    "now_ms",
    "owned_by",
    "pack_envelope",
    "process_tag",
    "unpack_envelope",
]

TOKEN_LENGTH = 12  # hex characters of a process token; also the Lua scripts' constant


def now_ms() -> int:
    """Wall-clock milliseconds: expiry crosses processes and machines, so it must be
    wall time (as in channels_redis); hosts are expected to keep NTP time."""
    return int(time.time() * 1000)


def process_tag(channel: str) -> str:
    """The inbox tag of a process-specific channel (see the module docstring)."""
    bang = channel.index("!")
    return channel[max(0, bang - TOKEN_LENGTH) : bang]


def glob_escape(text: str) -> str:
    """Escape ``text`` for a ``SCAN MATCH`` pattern."""
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


@dataclass(frozen=True, slots=True)
class KeyLayout:
    """Names of the keys of one layer (one ``prefix``)."""

    prefix: str

    def __post_init__(self) -> None:
        prefix = self.prefix
        if not prefix or not prefix.isprintable() or any(ch in prefix for ch in "{}|, "):
            # A brace would move the hash tag; "|" and "," would break envelope framing;
            # blanks and control characters have no place in a key an operator types.
            raise ValueError(
                "prefix must be non-empty, printable, without spaces or any of '{}|,'; "
                f"got {prefix!r}"
            )

    def channel(self, name: str) -> str:
        return f"{self.prefix}:c:{{{name}}}"

    def inbox(self, tag: str) -> str:
        return f"{self.prefix}:p:{{{tag}}}"

    def counts(self, tag: str) -> str:
        return f"{self.prefix}:n:{{{tag}}}"

    def group(self, name: str) -> str:
        return f"{self.prefix}:g:{{{name}}}"

    def scan_pattern(self) -> str:
        """Matches this layer's keys and no other prefix's: ``P:*`` would also match
        every key of prefix ``P:x`` (``P:x:c:{...}``). Every key is ``<prefix>:<one-letter
        kind>:{...}`` (the kinds above, and ``claims.py``'s ``k``), and since prefixes
        hold no brace, the first ``{`` of a key ends its ``<prefix>:<kind>:``: only
        prefix ``P`` matches ``P:?:{``."""
        return glob_escape(self.prefix) + ":?:{*"


class Envelope(NamedTuple):
    # A tuple, not a frozen dataclass: one is built per message popped.
    expires_ms: int
    channels: list[str]
    payload: memoryview


def pack_envelope(expires_ms: int, channel: str | bytes, payload: bytes) -> bytes:
    name = channel.encode() if isinstance(channel, str) else channel
    return b"%d|%s|%s" % (expires_ms, name, payload)


def unpack_envelope(data: bytes, max_payload: int) -> Envelope:
    """Split a popped envelope; ``MalformedMessage`` if it is not one (anyone who can
    write to the server can push anything) or its payload is over ``max_payload``
    bytes, which no sender of this layer can have written: it is refused before the
    payload is decoded."""
    try:
        first = data.index(b"|")
        second = data.index(b"|", first + 1)
        names = data[first + 1 : second]
        expires_ms = int(data[:first])
        channels = names.decode().split(",") if names else []
    except (ValueError, TypeError) as exc:  # no "|", not a number, not UTF-8, not bytes
        raise MalformedMessage(f"not an envelope ({type(exc).__name__})") from None
    size = len(data) - second - 1
    if size > max_payload:
        raise MalformedMessage(f"a payload of {size} bytes, over max_message_size")
    # Positional: keywords cost a tenth of this function's time. The payload is a view,
    # not a copy: it is decoded straight from the reply buffer.
    return Envelope(expires_ms, channels, memoryview(data)[second + 1 :])


def owned_by(channel: str, tag: str) -> bool:
    """Whether ``channel`` is a process-specific channel of the process ``tag``."""
    bang = channel.find("!")
    return bang >= TOKEN_LENGTH and channel[bang - TOKEN_LENGTH : bang] == tag

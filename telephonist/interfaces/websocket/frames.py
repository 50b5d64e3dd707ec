"""Server text frames, built once for every socket a broadcast reaches.

A group send hands each member of one process its own copy of one decoded message, and
the copies share their ``text`` (a shallow copy: ``core/memory.py``, ``core/redis/local.py``).
A frame from a server is never masked (RFC 6455, section 5.1), so the bytes on the wire
are the same for every socket too. Autobahn's ``sendMessage`` builds them afresh for
each one: type assertions, per-message statistics, the header packed with ``struct``,
a join, a UTF-8 encode before that. :class:`LastFrame` keeps the frame of the last text
it built and gives it to the next socket that sends *the same object*: identity, not
equality, so the check costs nothing and a different text is never confused with it.

Only the plain case is built here (one unfragmented, uncompressed text frame); a socket
that negotiated compression, fragments, or logs frames sends through Autobahn as before
(``protocol.py`` decides).
"""

from __future__ import annotations

__all__ = ["LastFrame", "text_frame"]

_FIN_TEXT = 0x81  # FIN bit and opcode 1 (text)


def text_frame(payload: bytes) -> bytes:
    """One unmasked, final text frame carrying ``payload`` (already UTF-8)."""
    n = len(payload)
    if n <= 125:
        header = bytes((_FIN_TEXT, n))
    elif n <= 0xFFFF:
        header = bytes((_FIN_TEXT, 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((_FIN_TEXT, 127)) + n.to_bytes(8, "big")
    return header + payload


class LastFrame:
    """The frame of the last text asked for, and its payload size."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        # One tuple, replaced whole: two threads' loops sharing it never mix entries.
        self._last: tuple[str | None, bytes, int] = (None, b"", 0)

    def text(self, text: str) -> tuple[bytes, int]:
        """``(frame, payload size)`` for ``text``; built only if ``text`` is not the
        object asked for last (holding it keeps its identity from being reused)."""
        last = self._last
        if last[0] is not text:
            payload = text.encode("utf-8")
            last = self._last = (text, text_frame(payload), len(payload))
        return last[1], last[2]

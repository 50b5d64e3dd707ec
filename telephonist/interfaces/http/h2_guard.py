"""Flood accounting for one HTTP/2 connection: frame headers in, a violation or nothing out.

Theory of operation
-------------------
The 2019 and 2023-2024 HTTP/2 denial-of-service bugs (ping, settings, reset, empty-frame
and priority floods, CVE-2019-9512/9513/9515/9518; Rapid Reset, CVE-2023-44487; the
CONTINUATION flood, CVE-2024-27316) share one shape: frames that are each legal and cheap
to send but cost the server work (an answer, a stream set up and torn down, a header
block kept in memory) with no request ever completed. The ``h2`` library answers them
all faithfully; what it cannot know is how many is too many.

So every byte of the connection passes through ``FrameGuard.feed`` before ``h2`` sees
it. The guard reads only the 9-byte frame headers (length, type, flags; payloads are
skipped, never copied) and keeps:

* a token bucket per kind of costly frame (``Bucket``): RST_STREAM from the client,
  PING, SETTINGS, PRIORITY, and DATA frames that carry nothing and do not end the stream.
  A bucket holds ``burst`` tokens and refills at ``burst / window`` a second, so a client
  may spend ``burst`` at once and ``burst`` per window on average; an empty bucket is a
  violation;
* the header block in progress: CONTINUATION frames and compressed bytes since its
  HEADERS frame, each bounded, so a block that never ends cannot grow.

A violation names its counter, the GOAWAY error code (``ENHANCE_YOUR_CALM`` for floods,
RFC 9113 5.4.1) and a reason for the log line; the connection sends GOAWAY and closes.
The guard does no I/O and reads no clock: ``now`` comes with each call, so tests drive
it with any timeline (hypothesis does, in ``tests/http/test_h2_guard.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PREFACE", "Bucket", "FrameGuard", "GuardLimits", "Violation", "sniff"]

#: What every HTTP/2 client sends first (RFC 9113 3.4), with or without TLS.
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

ENHANCE_YOUR_CALM = 0xB

_DATA, _HEADERS, _PRIORITY, _RST_STREAM, _SETTINGS, _PING, _CONTINUATION = 0, 1, 2, 3, 4, 6, 9
_END_STREAM, _ACK, _END_HEADERS = 0x1, 0x1, 0x4


def sniff(first: bytes) -> bool | None:
    """Whether a connection's first bytes are the HTTP/2 preface (h2c by prior
    knowledge); ``None`` while too few have come to tell."""
    n = min(len(first), len(PREFACE))
    if first[:n] != PREFACE[:n]:
        return False
    return True if n == len(PREFACE) else None


@dataclass(frozen=True, slots=True)
class Violation:
    counter: str
    error_code: int
    reason: str


@dataclass(frozen=True, slots=True)
class GuardLimits:
    """Per connection. Each ``*_burst`` frames may come at once, and as many per
    ``window`` seconds on average."""

    resets_burst: int = 100
    pings_burst: int = 50
    settings_burst: int = 50
    priority_burst: int = 500
    empty_data_burst: int = 100
    window: float = 10.0
    max_continuation_frames: int = 16
    max_header_block_bytes: int = 32 * 1024


class Bucket:
    """A token bucket: ``take(now)`` is False once more than ``burst`` were taken faster
    than ``rate`` a second refills them."""

    __slots__ = ("burst", "last", "rate", "tokens")

    def __init__(self, burst: int, rate: float) -> None:
        self.burst, self.rate = float(burst), rate
        self.tokens = float(burst)
        self.last: float | None = None

    def take(self, now: float) -> bool:
        if self.last is not None and now > self.last:
            self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        if self.last is None or now > self.last:
            self.last = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


class FrameGuard:
    """See the module docstring. ``feed`` every byte the client sends, in order."""

    def __init__(self, limits: GuardLimits) -> None:
        self.limits = limits
        rate = 1.0 / limits.window
        self._buckets = {
            _RST_STREAM: (
                Bucket(limits.resets_burst, limits.resets_burst * rate),
                "h2_rapid_reset",
            ),
            _PING: (Bucket(limits.pings_burst, limits.pings_burst * rate), "h2_ping_flood"),
            _SETTINGS: (
                Bucket(limits.settings_burst, limits.settings_burst * rate),
                "h2_settings_flood",
            ),
            _PRIORITY: (
                Bucket(limits.priority_burst, limits.priority_burst * rate),
                "h2_priority_flood",
            ),
        }
        self._empty = Bucket(limits.empty_data_burst, limits.empty_data_burst * rate)
        self._preface = len(PREFACE)  # preface bytes still to skip
        self._head = b""  # a frame header split across reads
        self._skip = 0  # payload bytes of the current frame still to skip
        self._block_frames = 0  # frames of the open header block (0: none open)
        self._block_bytes = 0
        self._broken = False

    def feed(self, data: bytes, now: float) -> Violation | None:
        pos, end = 0, len(data)
        if self._preface:
            pos = min(self._preface, end)
            self._preface -= pos
        while pos < end and not self._broken:
            if self._skip:
                step = min(self._skip, end - pos)
                self._skip -= step
                pos += step
                continue
            need = 9 - len(self._head)
            head = self._head + data[pos : pos + need]
            pos += min(need, end - pos)
            if len(head) < 9:
                self._head = head
                return None
            self._head = b""
            length = int.from_bytes(head[:3], "big")
            self._skip = length
            found = self._frame(head[3], head[4], length, now)
            if found is not None:
                return found
        return None

    def _frame(self, kind: int, flags: int, length: int, now: float) -> Violation | None:
        if self._block_frames:
            if kind != _CONTINUATION:
                # h2 answers a broken block with GOAWAY PROTOCOL_ERROR itself, and the
                # connection ends there: nothing after it is worth counting.
                self._broken = True
                return None
            self._block_frames += 1
            self._block_bytes += length
            if flags & _END_HEADERS:
                self._block_frames = 0
            return self._check_block()
        if kind == _HEADERS:
            if not flags & _END_HEADERS:
                self._block_frames = 1
            self._block_bytes = length
            return self._check_block()
        if kind == _DATA:
            if length == 0 and not flags & _END_STREAM and not self._empty.take(now):
                return Violation("h2_empty_data_flood", ENHANCE_YOUR_CALM, "empty DATA frames")
            return None
        entry = self._buckets.get(kind)
        if entry is None or (kind in (_PING, _SETTINGS) and flags & _ACK):
            return None
        bucket, counter = entry
        if bucket.take(now):
            return None
        return Violation(counter, ENHANCE_YOUR_CALM, f"{counter[3:].replace('_', ' ')}")

    def _check_block(self) -> Violation | None:
        limits = self.limits
        if self._block_frames > limits.max_continuation_frames + 1:
            return Violation(
                "h2_continuation_flood",
                ENHANCE_YOUR_CALM,
                f"more than {limits.max_continuation_frames} CONTINUATION frames in a block",
            )
        if self._block_bytes > limits.max_header_block_bytes:
            return Violation(
                "h2_header_block_too_large",
                ENHANCE_YOUR_CALM,
                f"header block over {limits.max_header_block_bytes} bytes",
            )
        return None

"""The parsers every reader runs on what it pops (``codec.decode``, ``keys.unpack_envelope``)
and the rate-limited log the readers report drops to, without a server: any bytes at
all give a message or ``MalformedMessage``, never another exception and never a value
that is not a message."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from telephonist.core.codec import MalformedMessage, decode, encode
from telephonist.core.ratelog import RateLimitedLog
from telephonist.core.redis.keys import pack_envelope, unpack_envelope
from tests.security.test_layer_data import FRAMES, MAX, PAYLOADS

values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text() | st.binary(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
messages = st.dictionaries(st.text(), values, max_size=6)


@given(st.binary(max_size=200))
def test_any_bytes_decode_to_a_message_or_malformed(data: bytes) -> None:
    try:
        message = decode(data)
    except MalformedMessage:
        return
    assert type(message) is dict


@given(messages, st.binary(min_size=1, max_size=8))
def test_a_message_with_bytes_appended_or_cut_is_malformed(
    message: dict[str, Any], extra: bytes
) -> None:
    data = encode(message, 1 << 20)
    assert decode(data) == message
    with pytest.raises(MalformedMessage):
        decode(data + extra)
    if len(data) > 1:
        with pytest.raises(MalformedMessage):
            decode(data[: len(data) // 2])


@given(st.binary(max_size=200))
def test_any_bytes_unpack_to_an_envelope_or_malformed(data: bytes) -> None:
    try:
        envelope = unpack_envelope(data, 100)
    except MalformedMessage:
        return
    assert isinstance(envelope.expires_ms, int)
    assert len(envelope.payload) <= 100
    assert all(isinstance(name, str) for name in envelope.channels)


@pytest.mark.parametrize("kind", [k for k in PAYLOADS if k != "over max_message_size"])
def test_each_malformed_payload_kind_is_refused(kind: str) -> None:
    with pytest.raises(MalformedMessage):
        decode(PAYLOADS[kind])


def test_nesting_is_bounded_in_step_with_encode() -> None:
    deep: Any = None
    for _ in range(1023):  # with the message's map: 1,024 levels
        deep = [deep]
    assert decode(encode({"a": deep}, MAX * 10))["a"] is not None  # what encode accepts
    with pytest.raises(TypeError):  # one level more: refused when sent...
        encode({"a": [deep]}, MAX * 10)
    with pytest.raises(MalformedMessage, match="1,024 levels"):  # ...and when read
        decode(b"\x81\xa1a" + b"\x91" * 1024 + b"\xc0")


@pytest.mark.parametrize("kind", list(FRAMES))
def test_each_malformed_frame_is_refused(kind: str) -> None:
    with pytest.raises(MalformedMessage):
        unpack_envelope(FRAMES[kind], MAX)


def test_a_payload_over_the_limit_is_refused_before_decoding() -> None:
    payload = msgpack.packb({"body": b"x" * 200})
    assert decode(unpack_envelope(pack_envelope(1, "", payload), len(payload)).payload)
    with pytest.raises(MalformedMessage, match="over max_message_size"):
        unpack_envelope(pack_envelope(1, "", payload), len(payload) - 1)


class _Lines(logging.Handler):
    """Collects messages; ``more`` is set on each one (the test waits on it)."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.more = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
        self.more.set()


async def test_a_repeated_warning_is_one_line_then_a_count() -> None:
    logger = logging.getLogger("tests.ratelog.timer")
    lines = _Lines()
    logger.addHandler(lines)
    try:
        log = RateLimitedLog(logger, interval=0.2)
        for i in range(50):
            log.warning("bad item", "dropped item %d", i)
        log.warning("other place", "dropped elsewhere")
        assert lines.lines == ["dropped item 0", "dropped elsewhere"]
        lines.more.clear()
        await asyncio.wait_for(lines.more.wait(), 5)  # the window closes on a loop timer
        assert lines.lines[2:] == ["bad item: 49 more like it in the last 0.2 s"]
        log.warning("bad item", "dropped item %d", 50)  # a new window: logged again
        assert lines.lines[3:] == ["dropped item 50"]
    finally:
        logger.removeHandler(lines)


def test_without_a_loop_the_count_comes_with_the_next_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [100.0]
    log = RateLimitedLog(logging.getLogger("tests.ratelog"), interval=10, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, logger="tests.ratelog"):
        log.warning("k", "first")
        log.warning("k", "second")
        now[0] += 9.9
        log.warning("k", "third")
        now[0] += 0.1  # no loop, so no timer: the next occurrence writes the count
        log.warning("k", "fourth")
    assert [r.getMessage() for r in caplog.records] == [
        "first",
        "k: 2 more like it in the last 10 s",
        "fourth",
    ]


def test_keys_past_the_bound_share_one_window(caplog: pytest.LogCaptureFixture) -> None:
    log = RateLimitedLog(logging.getLogger("tests.ratelog"), interval=60, max_keys=2)
    with caplog.at_level(logging.WARNING, logger="tests.ratelog"):
        for key in ["a", "b", "c", "d", "e"]:
            log.warning(key, "key %s", key)
    assert [r.getMessage() for r in caplog.records] == ["key a", "key b", "key c"]


def test_a_line_and_its_count_keep_the_level_they_were_logged_at(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [100.0]
    log = RateLimitedLog(logging.getLogger("tests.ratelog"), interval=10, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="tests.ratelog"):
        log.log(logging.INFO, "poster", "now posting")
        log.log(logging.INFO, "poster", "now posting")
        now[0] += 10
        log.log(logging.ERROR, "poster", "could not post")
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.INFO, "now posting"),
        (logging.INFO, "poster: 1 more like it in the last 10 s"),
        (logging.ERROR, "could not post"),
    ]

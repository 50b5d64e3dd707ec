"""The HTTP/2 flood accounting (``h2_guard``), without sockets: token buckets and the
frame-header scanner, driven by hypothesis with arbitrary timelines and byte splits."""

from __future__ import annotations

from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    HeadersFrame,
    PingFrame,
    PriorityFrame,
    RstStreamFrame,
    SettingsFrame,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from telephonist.interfaces.http.h2_guard import (
    PREFACE,
    Bucket,
    FrameGuard,
    GuardLimits,
    Violation,
    sniff,
)


@given(
    burst=st.integers(1, 50),
    rate=st.floats(0.1, 100),
    gaps=st.lists(st.floats(0, 2), min_size=1, max_size=300),
)
def test_a_bucket_never_lets_more_through_than_burst_plus_refill(
    burst: int, rate: float, gaps: list[float]
) -> None:
    bucket = Bucket(burst, rate)
    now, taken = 0.0, []
    for gap in gaps:
        now += gap
        if bucket.take(now):
            taken.append(now)
    # In every interval [a, b]: at most burst + rate * (b - a) taken (small float slack).
    for i, start in enumerate(taken):
        for j in range(i, len(taken)):
            assert j - i + 1 <= burst + rate * (taken[j] - start) + 1e-6


@given(burst=st.integers(1, 50), rate=st.floats(0.1, 100), n=st.integers(1, 300))
def test_a_client_within_the_rate_is_never_refused(burst: int, rate: float, n: int) -> None:
    bucket = Bucket(burst, rate)
    assert all(bucket.take(i / rate * 1.0001) for i in range(n))


@given(st.binary(max_size=40))
def test_sniff_tells_the_preface_from_anything_else(first: bytes) -> None:
    verdict = sniff(first)
    if first.startswith(PREFACE):
        assert verdict is True
    elif PREFACE.startswith(first):
        assert verdict is None
    else:
        assert verdict is False


_KINDS = st.sampled_from(
    ["data", "empty", "end", "headers", "open", "cont", "ping", "settings", "rst", "prio"]
)


def _frame(kind: str) -> Frame:
    frames: dict[str, Frame] = {
        "data": DataFrame(1, data=b"abc"),
        "empty": DataFrame(1, data=b""),
        "end": DataFrame(1, data=b"", flags=["END_STREAM"]),
        "headers": HeadersFrame(1, data=b"x" * 10, flags=["END_HEADERS"]),
        "open": HeadersFrame(1, data=b"x" * 10),
        "cont": ContinuationFrame(1, data=b"y" * 10),
        "ping": PingFrame(0, opaque_data=b"12345678"),
        "settings": SettingsFrame(0, settings={}),
        "rst": RstStreamFrame(1, error_code=8),
        "prio": PriorityFrame(1, depends_on=0, stream_weight=1),
    }
    return frames[kind]


def _model(kinds: list[str], limits: GuardLimits) -> Violation | None:
    """What the guard must say, counted the slow and obvious way (all at one instant)."""
    seen = {"ping": 0, "settings": 0, "rst": 0, "prio": 0, "empty": 0}
    bursts = {
        "ping": limits.pings_burst,
        "settings": limits.settings_burst,
        "rst": limits.resets_burst,
        "prio": limits.priority_burst,
        "empty": limits.empty_data_burst,
    }
    block: int | None = None
    block_bytes = 0
    for kind in kinds:
        if block is not None:
            if kind != "cont":
                return None  # a broken block: h2's business
            block += 1
            block_bytes += 10
            if block > limits.max_continuation_frames + 1:
                return Violation("h2_continuation_flood", 0xB, "")
            if block_bytes > limits.max_header_block_bytes:
                return Violation("h2_header_block_too_large", 0xB, "")
            continue
        if kind == "open":
            block, block_bytes = 1, 10
        elif kind in seen:
            seen[kind] += 1
            if seen[kind] > bursts[kind]:
                return Violation(kind, 0xB, "")
    return None


@settings(max_examples=200)
@given(
    kinds=st.lists(_KINDS, max_size=80),
    cuts=st.lists(st.integers(1, 40), max_size=40),
    burst=st.integers(1, 6),
    conts=st.integers(0, 5),
)
def test_the_guard_counts_frames_however_the_bytes_are_split(
    kinds: list[str], cuts: list[int], burst: int, conts: int
) -> None:
    limits = GuardLimits(
        resets_burst=burst,
        pings_burst=burst,
        settings_burst=burst,
        priority_burst=burst,
        empty_data_burst=burst,
        max_continuation_frames=conts,
        max_header_block_bytes=45,
    )
    wire = PREFACE + b"".join(_frame(k).serialize() for k in kinds)
    guard = FrameGuard(limits)
    found = None
    pos = 0
    for cut in [*cuts, len(wire)]:
        if pos >= len(wire) or found is not None:
            break
        found = guard.feed(wire[pos : pos + cut], now=0.0)
        pos += cut
    expected = _model(kinds, limits)
    if expected is None:
        assert found is None
    else:
        assert found is not None
        assert found.error_code == 0xB
        names = {
            "ping": "h2_ping_flood",
            "settings": "h2_settings_flood",
            "rst": "h2_rapid_reset",
            "prio": "h2_priority_flood",
            "empty": "h2_empty_data_flood",
        }
        assert found.counter == names.get(expected.counter, expected.counter)


def test_acks_and_the_end_of_a_stream_cost_nothing() -> None:
    guard = FrameGuard(GuardLimits(pings_burst=1, settings_burst=1, empty_data_burst=1))
    wire = PREFACE + b"".join(
        f.serialize()
        for f in [
            *(PingFrame(0, opaque_data=b"12345678", flags=["ACK"]) for _ in range(10)),
            *(SettingsFrame(0, flags=["ACK"]) for _ in range(10)),
            *(DataFrame(i, data=b"", flags=["END_STREAM"]) for i in range(1, 20, 2)),
        ]
    )
    assert guard.feed(wire, 0.0) is None


def test_the_buckets_refill_over_the_window() -> None:
    guard = FrameGuard(GuardLimits(resets_burst=10, window=10.0))
    rst = RstStreamFrame(1, error_code=8).serialize()
    assert guard.feed(PREFACE + rst * 10, 0.0) is None
    assert guard.feed(rst, 0.0) is not None  # the 11th at once
    guard = FrameGuard(GuardLimits(resets_burst=10, window=10.0))
    guard.feed(PREFACE, 0.0)
    # One a second forever is the sustained rate: never refused.
    assert all(guard.feed(rst, float(t)) is None for t in range(200))

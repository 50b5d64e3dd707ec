"""Server text frames built once (``interfaces/websocket/frames.py``), read back the way
RFC 6455 lays a frame out: header, the three length forms, payload. (Real clients read
them in test_websocket.py.)"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from telephonist.interfaces.websocket.frames import LastFrame, text_frame


def _parse(frame: bytes) -> tuple[int, bool, bytes]:
    """(opcode, masked, payload) read the way RFC 6455 section 5.2 lays a frame out."""
    b0, b1 = frame[0], frame[1]
    assert b0 & 0x80  # FIN
    n, at = b1 & 0x7F, 2
    if n == 126:
        n, at = int.from_bytes(frame[2:4], "big"), 4
    elif n == 127:
        n, at = int.from_bytes(frame[2:10], "big"), 10
    assert len(frame) == at + n
    return b0 & 0x0F, bool(b1 & 0x80), frame[at:]


@given(st.text(max_size=300) | st.sampled_from(["x" * 125, "x" * 126, "é" * 40_000]))
def test_a_frame_carries_the_text(text: str) -> None:
    opcode, masked, payload = _parse(text_frame(text.encode()))
    assert (opcode, masked, payload.decode()) == (1, False, text)


def test_the_last_text_is_built_once_and_only_for_that_object() -> None:
    last = LastFrame()
    text = "hello " * 3
    frame, size = last.text(text)
    assert last.text(text)[0] is frame
    assert size == len(text.encode())
    other = "".join(["hello "] * 3)  # equal, not the same object: built anew, same bytes
    assert last.text(other)[0] is not frame
    assert last.text(other)[0] == frame

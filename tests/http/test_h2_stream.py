"""An HTTP/2 stream's request-body accounting (``h2_stream.H2Stream``) without sockets:
whatever a client sends within its window and however the bytes are read, the stream
hands them on in order, in chunks of at most ``body_chunk_bytes``, gives back to the
window exactly what was handed on, and never holds more than the window."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from telephonist.interfaces.http.h2_stream import H2Request, H2Stream
from telephonist.interfaces.http.reader import BodyError

WINDOW, CHUNK = 4096, 1024


class Link:
    """The connection side: what the client may still send, and what was given back."""

    accepting = True

    def __init__(self) -> None:
        self.window = WINDOW
        self.acked = 0

    def consumed(self, sid: int, n: int) -> None:
        self.acked += n
        self.window += n

    def report(self, counter: str, reason: str) -> None:
        pass


_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("feed"), st.integers(0, 3000)),
        st.tuples(st.just("read"), st.none()),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(ops=_OPS, max_body=st.integers(0, 20_000))
def test_body_accounting(ops: list[tuple[str, Any]], max_body: int) -> None:
    async def scenario() -> None:
        link = Link()
        stream = H2Stream(
            link,  # type: ignore[arg-type]  # only the input side is used here
            1,
            H2Request(b"POST", b"/", b"2"),
            ended=False,
            chunk=CHUNK,
            max_body=max_body,
            body_timeout=5,
        )
        sent, got = bytearray(), bytearray()

        async def read() -> bool:
            chunk, done = await stream.read_body(wait_full=False, wait_any=False)
            assert len(chunk) <= CHUNK
            got.extend(chunk)
            return done

        try:
            for op, arg in ops:
                if op == "feed":
                    n = min(arg, link.window)  # a client keeps to its window (h2 enforces it)
                    data = bytes((len(sent) + i) % 251 for i in range(n))
                    link.window -= n
                    sent.extend(data)
                    stream.feed(data)
                else:
                    assert not await read()  # the end never came
                # Held: sent and not handed on yet; never more than the window.
                assert len(sent) - len(got) <= WINDOW
                assert link.acked == len(got)  # given back: exactly what was handed on
            stream.end_input()
            for _ in range(WINDOW // CHUNK + 1):  # bounded: the window bounds what is held
                if await read():
                    break
            else:
                raise AssertionError("the end of the body never came")
        except BodyError as exc:
            status = exc.status
        else:
            status = 0
        if status:
            assert status == 413
            assert len(sent) > max_body
            return
        assert len(sent) <= max_body
        assert got == sent
        assert link.acked == len(sent)

    asyncio.run(scenario())

"""A request body has a total bound, not only a per-gap one (``body_min_rate``), and a
refused body ends in a proper close: the client that is still sending gets the answer,
then the end of the stream, never a reset.

The clients are real sockets in a thread of their own (blocking calls, as a simple
client is written), paced the way a slow client is: each pause is the client's own
behaviour under test, bounded, and doubles as a bounded wait for the server's answer.
"""

from __future__ import annotations

import asyncio
import json
import select
import socket
import time

from hypothesis import given
from hypothesis import strategies as st

from telephonist.interfaces.http.protocol import LINGER_SECONDS
from telephonist.interfaces.http.reader import body_wait
from tests.http import apps
from tests.http.clients import parse
from tests.http.harness import port_of, serve

HEAD = b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
DRIPS = 200  # bound on the bytes a dripping client sends before giving up


def _drip(port: int, pause: float) -> tuple[bytes, int, int]:
    """One byte of a 100,000-byte body every ``pause`` seconds, reading whatever comes
    back meanwhile, until the server ends the stream; then three more bytes, as a
    client that has not looked yet would send. Returns what was read, the bytes sent
    before the end and how many of the three later sends the socket took.
    ``ConnectionResetError``/``BrokenPipeError`` escape: that is the failure."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(HEAD % 100_000)
        answer, sent = b"", 0
        for _ in range(DRIPS):
            sock.sendall(b"x")
            sent += 1
            readable, _, _ = select.select([sock], [], [], pause)
            if readable:
                data = sock.recv(65536)
                if not data:
                    break  # the server's FIN, after its answer
                answer += data
        else:
            raise AssertionError(f"no answer after {DRIPS} bytes: {answer!r}")
        later = 0
        for _ in range(3):
            time.sleep(pause)  # the slow client's pace, not a synchronisation
            sock.sendall(b"x")
            later += 1
        return answer, sent, later


async def test_dripping_body_gets_408_past_its_total_bound() -> None:
    rec = apps.Recorder()
    # A byte every 0.1 s never leaves a 2 s gap, so only the total bound can stop it:
    # 2 s of grace plus 1/100 s per byte received.
    async with serve(rec.never_answer, body_timeout=2.0, body_min_rate=100) as (iface, host, _):
        answer, sent, later = await asyncio.to_thread(_drip, port_of(iface), 0.1)
        (response,) = parse(answer)
        assert response.status == 408
        assert later == 3
        assert sent < 100  # stopped by the bound, long before the body's end
        await host.counted("body_too_slow")
        assert host.counts["body_timeout"] == 0
        await asyncio.wait_for(rec.disconnected.wait(), 5)  # the consumer was told


def _steady(port: int, chunk: int, chunks: int, pause: float) -> bytes:
    """A body sent in ``chunks`` pieces of ``chunk`` bytes, ``pause`` seconds apart."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(HEAD % (chunk * chunks))
        for _ in range(chunks):
            time.sleep(pause)  # the client's pace
            sock.sendall(b"y" * chunk)
        answer = b""
        while not parse_complete(answer):
            data = sock.recv(65536)
            if not data:
                break
            answer += data
        return answer


def parse_complete(data: bytes) -> bool:
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


async def test_slow_but_steady_body_is_served() -> None:
    # 6 pieces of 500 bytes 0.4 s apart: longer in all than body_timeout, but far
    # above the minimum rate, so the body is taken whole.
    async with serve(apps.echo, body_timeout=1.0, body_min_rate=100) as (iface, host, _):
        answer = await asyncio.to_thread(_steady, port_of(iface), 500, 6, 0.4)
        (response,) = parse(answer)
        assert response.status == 200
        assert json.loads(response.body)["body_len"] == 3000
        assert host.counts["body_too_slow"] == 0


def _declared_too_large(port: int) -> tuple[bytes, int]:
    """A client that starts sending its body at once, as most do without
    ``Expect: 100-continue``, and reads the answer once it has sent 256 KiB."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(HEAD % 1_000_000 + b"z" * 65536)
        for _ in range(3):
            sock.sendall(b"z" * 65536)
        answer = b""
        for _ in range(100):  # bounded: the answer is short
            data = sock.recv(65536)
            if not data:
                return answer, len(answer)
            answer += data
        raise AssertionError("the server did not end the stream")


async def test_declared_too_large_body_answered_not_reset() -> None:
    async with serve(apps.echo, max_body_bytes=1000) as (iface, host, _):
        answer, _ = await asyncio.to_thread(_declared_too_large, port_of(iface))
        (response,) = parse(answer)
        assert response.status == 413
        assert host.counts["body_too_large"] == 1


def _answered_then_silent(port: int) -> tuple[bytes, socket.socket]:
    """Half a body, then nothing: the client reads the 408 and the end of the stream but
    never closes its socket (returned open to the test)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(HEAD % 1000 + b"a" * 10)
    answer = b""
    for _ in range(100):  # bounded: the answer is short
        data = sock.recv(65536)
        if not data:
            return answer, sock
        answer += data
    raise AssertionError("the server did not end the stream")


async def test_a_lingering_close_is_bounded() -> None:
    """A client that never closes after the answer is let go after ``LINGER_SECONDS``."""
    async with serve(apps.echo, body_timeout=0.3) as (iface, host, _):
        answer, sock = await asyncio.to_thread(_answered_then_silent, port_of(iface))
        with sock:
            (response,) = parse(answer)
            assert response.status == 408
            assert host.counts["body_timeout"] == 1
            (proto,) = iface.server.connections  # the one connection, lingering
            await asyncio.wait_for(asyncio.shield(proto.lost), LINGER_SECONDS + 5)


@given(
    timeout=st.floats(0.1, 3600),
    rate=st.integers(1, 1 << 30),
    received=st.integers(0, 1 << 36),
    waited=st.floats(0, 1e6),
)
def test_body_wait_keeps_both_bounds(
    timeout: float, rate: int, received: int, waited: float
) -> None:
    """The rule HTTP/1.1 and HTTP/2 share: never a wait longer than one gap's bound,
    never past the total allowance, and the counter names the bound that ends it."""
    seconds, counter = body_wait(timeout, rate, received, waited)
    allowance = timeout + received / rate - waited
    assert 0 <= seconds <= timeout
    assert seconds <= max(allowance, 0.0) or counter == "body_timeout"
    assert counter == ("body_timeout" if allowance >= timeout else "body_too_slow")

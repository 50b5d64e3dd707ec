"""Keepalive pings: the sweep's rules by property, and a real client over a real socket
that answers the server's pings and stays connected."""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from telephonist.interfaces.websocket.keepalive import Keepalive
from tests.http.harness import port_of, serve
from tests.websocket.test_websocket import Chat, _client_frame

times = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)
spans = st.floats(min_value=0.01, max_value=3600, allow_nan=False, allow_infinity=False)


@dataclass
class Sock:
    last_seen: float
    ping_sent: float


@given(spans, spans, times, st.lists(st.tuples(times, times | st.just(0.0)), max_size=30))
def test_due_pings_the_quiet_and_drops_the_silent(
    interval: float, timeout: float, now: float, states: list[tuple[float, float]]
) -> None:
    rules = Keepalive(interval, timeout)
    socks = [Sock(seen, sent) for seen, sent in states]
    before = [(s.last_seen, s.ping_sent) for s in socks]
    ping, drop = rules.due(socks, now)
    for sock, (seen, sent) in zip(socks, before, strict=True):
        if sent:  # a ping is out: dropped once it is ``timeout`` old, never pinged again
            assert (sock in drop) == (sent <= now - timeout)
            assert sock not in ping
            assert sock.ping_sent == sent
        else:  # none out: pinged after ``interval`` of silence, never dropped
            assert (sock in ping) == (seen <= now - interval)
            assert sock not in drop
            assert sock.ping_sent == (now if sock in ping else 0.0)


@given(spans, spans, st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=50))
def test_a_peer_that_answers_within_the_timeout_is_never_dropped(
    interval: float, timeout: float, delays: list[float]
) -> None:
    """Sweeps every tick; after each ping the peer answers within ``timeout`` (a fraction
    of it, from ``delays``). However the times fall, the socket is never dropped."""
    rules = Keepalive(interval, timeout)
    sock = Sock(last_seen=0.0, ping_sent=0.0)
    now, answers = 0.0, iter(delays)
    answer_at: float | None = None
    for _ in range(2000):  # bounded: enough sweeps for every ping in ``delays``
        now += rules.tick
        if answer_at is not None and answer_at <= now:
            sock.last_seen, sock.ping_sent, answer_at = answer_at, 0.0, None
        ping, drop = rules.due([sock], now)
        assert not drop
        if ping:
            delay = next(answers, None)
            if delay is None:
                return
            answer_at = now + delay * timeout * 0.99


async def _read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readexactly(2)
    assert head[1] & 0x80 == 0  # servers never mask
    length = head[1] & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", await reader.readexactly(2))
    return head[0] & 0x0F, await reader.readexactly(length)


async def test_a_client_that_answers_pings_stays_connected() -> None:
    """Three pings answered with pongs, then a message still echoes: no timeout, and
    the server's frame is the bare ping the sweep sends."""
    chat = Chat()
    settings = {"ping_interval": 0.2, "ping_timeout": 0.5}
    async with serve(chat, websocket=settings) as (iface, host, _worker):
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(iface))
        key = base64.b64encode(os.urandom(16))
        writer.write(
            b"GET /p HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 101")
        for _ in range(3):
            opcode, payload = await asyncio.wait_for(_read_frame(reader), 5)
            assert (opcode, payload) == (0x9, b"")
            writer.write(_client_frame(0xA, payload))
        writer.write(_client_frame(0x1, b"still here"))
        opcode, payload = await asyncio.wait_for(_read_frame(reader), 5)
        for _ in range(10):  # a ping may cross our message: answer it, read on
            if opcode != 0x9:
                break
            writer.write(_client_frame(0xA, payload))
            opcode, payload = await asyncio.wait_for(_read_frame(reader), 5)
        assert (opcode, payload) == (0x1, b"echo:still here")
        assert host.counts["ws_ping_timeout"] == 0
        assert iface.websocket is not None
        assert iface.websocket.keepalive is not None
        assert iface.websocket.keepalive.pings >= 3
        writer.close()

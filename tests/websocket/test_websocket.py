"""WebSocket through the HTTP upgrade on the same port, with the ``websockets`` client
library and raw sockets; the handshake is held until the consumer answers."""

from __future__ import annotations

import asyncio
import base64
import os
import struct
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from telephonist.interfaces.base import ABORT
from tests.http.clients import read_all
from tests.http.harness import port_of, serve


class Chat:
    """A consumer: accepts (choosing a subprotocol), echoes, records everything."""

    def __init__(self, *, accept: bool = True, answer: bool = True) -> None:
        self.accept = accept
        self.answer = answer
        self.seen: list[dict[str, Any]] = []
        self.closed = asyncio.Event()
        self.connected = asyncio.Event()

    async def __call__(self, first: dict[str, Any], receive: Any, send: Any) -> None:
        if first["type"] == "http.request":  # plain HTTP on the same port
            await receive()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"plain http"})
            return
        while True:
            message = await receive()
            self.seen.append(message)
            kind = message["type"]
            if kind == "websocket.connect":
                self.connected.set()
                if not self.answer:
                    continue
                if not self.accept:
                    await send({"type": "websocket.close"})
                    continue
                offered = message["subprotocols"]
                await send(
                    {
                        "type": "websocket.accept",
                        "subprotocol": offered[-1] if offered else None,
                        "headers": [[b"x-hello", b"world"]],
                    }
                )
            elif kind == "websocket.receive":
                if message.get("text") == "close-me":
                    await send({"type": "websocket.close", "code": 4001, "reason": "bye"})
                elif message.get("text") == "chat":
                    await send({"text": f"{message['user']} in {message['room']}"})
                elif message.get("text") == "abort":
                    await send({"type": ABORT, "reason": "test"})
                elif "text" in message:
                    await send({"type": "websocket.send", "text": "echo:" + message["text"]})
                else:
                    await send({"type": "websocket.send", "bytes": message["bytes"][::-1]})
            elif kind == "websocket.disconnect":
                self.closed.set()
                return


async def test_accept_subprotocol_headers_and_scope() -> None:
    chat = Chat()
    async with serve(chat) as (iface, _host, worker):
        url = f"ws://127.0.0.1:{port_of(iface)}/room/1?x=y"
        async with connect(url, subprotocols=["a", "b"], origin="http://example.org") as ws:  # type: ignore[list-item]
            assert ws.subprotocol == "b"
            assert ws.response.headers["x-hello"] == "world"
            await ws.send("hi")
            assert await ws.recv() == "echo:hi"
            await ws.send(b"\x01\x02")
            assert await ws.recv() == b"\x02\x01"
        await asyncio.wait_for(chat.closed.wait(), 5)
        # Plain HTTP keeps working on the same port.
        async with httpx.AsyncClient() as client:
            r = await client.get(f"http://127.0.0.1:{port_of(iface)}/")
        assert r.text == "plain http"
    connect_msg = chat.seen[0]
    assert connect_msg["type"] == "websocket.connect"
    assert connect_msg["scheme"] == "ws"
    assert connect_msg["path"] == "/room/1"
    assert connect_msg["query_string"] == b"x=y"
    assert connect_msg["subprotocols"] == ["a", "b"]
    assert [b"origin", b"http://example.org"] in connect_msg["headers"]
    assert connect_msg["client"][0] == "127.0.0.1"
    assert "method" not in connect_msg
    text = chat.seen[1]
    assert text["text"] == "hi"
    assert text["room"] == "/room/1"
    assert text["user"].startswith("127.0.0.1:")
    assert chat.seen[2]["bytes"] == b"\x01\x02"
    assert "text" not in chat.seen[2]
    assert chat.seen[-1]["type"] == "websocket.disconnect"
    assert chat.seen[-1]["code"] == 1000
    assert [m["order"] for m in chat.seen] == list(range(len(chat.seen)))
    assert worker.errors == []


async def test_chat_reply_and_close_codes() -> None:
    chat = Chat()
    async with serve(chat) as (iface, _host, _worker):
        url = f"ws://127.0.0.1:{port_of(iface)}/lobby"
        async with connect(url) as ws:
            await ws.send("chat")
            reply = await ws.recv()
            assert isinstance(reply, str)
            assert reply.startswith("127.0.0.1:")
            assert reply.endswith(" in /lobby")
            await ws.send("close-me")
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4001
        assert closed.value.rcvd.reason == "bye"
        # A client-chosen close code reaches the consumer.
        async with connect(url) as ws:
            await ws.close(4321)
        await asyncio.wait_for(chat.closed.wait(), 5)
        assert chat.seen[-1]["code"] == 4321


async def test_close_before_accept_is_403() -> None:
    chat = Chat(accept=False)
    async with serve(chat) as (iface, _host, _worker):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(f"ws://127.0.0.1:{port_of(iface)}/"):
                pass
    assert refused.value.response.status_code == 403


async def test_unanswered_handshake_times_out_504() -> None:
    chat = Chat(answer=False)
    async with serve(chat, websocket={"handshake_timeout": 0.3}) as (iface, host, _worker):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(f"ws://127.0.0.1:{port_of(iface)}/"):
                pass
        assert refused.value.response.status_code == 504
        assert host.counts["ws_handshake_timeout"] == 1
        await asyncio.wait_for(chat.closed.wait(), 5)  # the consumer hears the end
        assert chat.seen[-1]["code"] == 1006


async def test_origin_check_403() -> None:
    chat = Chat()
    settings = {"allowed_origins": ["https://*.example.com"], "allow_missing_origin": False}
    async with serve(chat, websocket=settings) as (iface, host, worker):
        url = f"ws://127.0.0.1:{port_of(iface)}/"
        async with connect(url, origin="https://app.example.com") as ws:  # type: ignore[arg-type]
            await ws.send("x")
            assert await ws.recv() == "echo:x"
        for origin in ("https://evil.com", None):
            with pytest.raises(InvalidStatus) as refused:
                async with connect(url, origin=origin):  # type: ignore[arg-type]
                    pass
            assert refused.value.response.status_code == 403
        assert host.counts["ws_origin_denied"] == 2
    # Refused before any consumer ran.
    assert sum(m["type"] == "websocket.connect" for m in worker.received) == 1


async def test_too_big_message_closes_1009_others_served() -> None:
    chat = Chat()
    async with serve(chat, websocket={"max_message_bytes": 1000}) as (iface, host, _worker):
        url = f"ws://127.0.0.1:{port_of(iface)}/"
        async with connect(url) as other, connect(url) as ws:
            await ws.send("x" * 2000)
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1009
            await other.send("still here")
            assert await other.recv() == "echo:still here"
        assert host.counts["ws_too_large"] == 1


async def test_too_big_frame_closes_1009() -> None:
    chat = Chat()
    settings = {"max_frame_bytes": 200, "max_message_bytes": 10_000}
    async with serve(chat, websocket=settings) as (iface, host, _worker):
        url = f"ws://127.0.0.1:{port_of(iface)}/"
        async with connect(url) as ws:
            await ws.send("y" * 150)  # under both limits
            assert await ws.recv() == "echo:" + "y" * 150
            await ws.send("x" * 500)  # one frame over the frame limit
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1009
        assert host.counts["ws_too_large"] == 1


async def test_channel_full_closes_1013() -> None:
    """A worker that cannot keep up: its inbox (capacity 2) fills, the next frame of a
    bound connection is refused by the layer, and the client is told to retry later."""
    release = asyncio.Event()

    async def stuck(first: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await receive()  # the first frame, then stop consuming
        await release.wait()

    async with serve(stuck, capacity=2, worker_concurrency=1) as (iface, host, _worker):
        async with connect(f"ws://127.0.0.1:{port_of(iface)}/") as ws:
            for i in range(20):
                await ws.send(f"m{i}")
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1013
        assert host.counts["channel_full"] == 1
        release.set()


async def test_abort_closes_1011() -> None:
    chat = Chat()
    async with serve(chat) as (iface, host, _worker):
        async with connect(f"ws://127.0.0.1:{port_of(iface)}/") as ws:
            await ws.send("abort")
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1011
        assert host.counts["aborted"] == 1


async def test_shutdown_closes_1001() -> None:
    chat = Chat()
    async with serve(chat) as (iface, _host, _worker):
        async with connect(f"ws://127.0.0.1:{port_of(iface)}/") as ws:
            await ws.send("x")
            assert await ws.recv() == "echo:x"
            await iface.stop(5)
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1001
        await asyncio.wait_for(chat.closed.wait(), 5)


def _client_frame(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    assert len(payload) < 126
    return struct.pack("!BB", 0x80 | opcode, 0x80 | len(payload)) + mask + masked


async def test_ping_keepalive_and_timeout() -> None:
    """A raw client that never answers pings is dropped; the server pinged first."""
    chat = Chat()
    settings = {"ping_interval": 0.2, "ping_timeout": 1.5}
    async with serve(chat, websocket=settings) as (iface, host, _worker):
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(iface))
        key = base64.b64encode(os.urandom(16))
        writer.write(
            b"GET /p HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 101")
        # The server pings, we never pong: it drops the TCP connection (reset).
        first = await asyncio.wait_for(reader.readexactly(1), 5)
        with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
            await asyncio.wait_for(reader.readexactly(1 << 20), 5)
        writer.close()
        rest = first
        assert rest[0] & 0x0F == 0x9  # the first frame the server sent was a ping
        await host.counted("ws_ping_timeout")
        await asyncio.wait_for(chat.closed.wait(), 5)
        assert chat.seen[-1]["code"] == 1006


async def test_frames_sent_before_accept_wait_for_it() -> None:
    """A client that pipelines a frame right after its handshake: the frame is held
    until the consumer accepts, then delivered after websocket.connect."""
    chat = Chat()
    async with serve(chat) as (iface, _host, _worker):
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(iface))
        key = base64.b64encode(os.urandom(16))
        writer.write(
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: "
            + key
            + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
            + _client_frame(0x1, b"early")
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 101")
        frame = await asyncio.wait_for(reader.readexactly(2 + len(b"echo:early")), 5)
        assert frame[2:] == b"echo:early"
        writer.write(_client_frame(0x8, struct.pack("!H", 1000)))
        await read_all(reader, 5)
        writer.close()


async def test_disabled_websocket_upgrade_is_a_plain_request() -> None:
    chat = Chat()
    async with serve(chat, websocket={"enabled": False}) as (iface, _host, worker):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(f"ws://127.0.0.1:{port_of(iface)}/"):
                pass
    # The consumer answered it as HTTP (200 "plain http"), so no 101 came back.
    assert refused.value.response.status_code == 200
    assert worker.received[0]["type"] == "http.request"

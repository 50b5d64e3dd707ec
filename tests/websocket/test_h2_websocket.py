"""WebSockets over HTTP/2 (RFC 8441, extended CONNECT) with a client built on ``h2`` and
``wsproto``'s frame codec: the same consumers, scope, held handshake and close codes as
through the HTTP/1.1 upgrade, beside plain HTTP/2 requests on the same connection."""

from __future__ import annotations

import asyncio
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.settings
from wsproto.frame_protocol import FrameProtocol, Opcode

from tests.http.harness import port_of, serve
from tests.websocket.test_websocket import Chat


class H2WebSocketClient:
    """One HTTP/2 connection; ``open`` makes a WebSocket stream on it (RFC 8441)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.conn = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        )
        self.events: list[h2.events.Event] = []
        self.data: dict[int, bytearray] = {}

    @classmethod
    async def connect(cls, port: int) -> H2WebSocketClient:
        client = cls(*await asyncio.open_connection("127.0.0.1", port))
        client.conn.initiate_connection()
        client.flush()
        # RFC 8441 3: no extended CONNECT before the server's SETTINGS allow it.
        await client.until(lambda: client.conn.remote_settings.enable_connect_protocol == 1)
        return client

    def flush(self) -> None:
        self.writer.write(self.conn.data_to_send())

    async def until(self, check: Any, within: float = 10.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not check():
            remaining = deadline - loop.time()
            assert remaining > 0, f"condition not met in {within} s: {self.events}"
            chunk = await asyncio.wait_for(self.reader.read(65536), remaining)
            assert chunk, "server closed the connection"
            for event in self.conn.receive_data(chunk):
                self.events.append(event)
                if isinstance(event, h2.events.DataReceived) and event.stream_id:
                    self.data.setdefault(event.stream_id, bytearray()).extend(event.data or b"")
                    self.conn.acknowledge_received_data(
                        event.flow_controlled_length or 0, event.stream_id
                    )
            self.flush()

    def response(self, sid: int) -> dict[str, str] | None:
        for event in self.events:
            if isinstance(event, h2.events.ResponseReceived) and event.stream_id == sid:
                return dict(event.headers or [])  # type: ignore[arg-type]
        return None

    def ended(self, sid: int) -> bool:
        return any(
            isinstance(e, h2.events.StreamEnded | h2.events.StreamReset) and e.stream_id == sid
            for e in self.events
        )

    async def open(self, path: str, **headers: str) -> H2WebSocket:
        sid = self.conn.get_next_available_stream_id()
        self.conn.send_headers(
            sid,
            [
                (":method", "CONNECT"),
                (":protocol", "websocket"),
                (":scheme", "http"),
                (":path", path),
                (":authority", "127.0.0.1"),
                ("sec-websocket-version", "13"),
                *headers.items(),
            ],
        )
        self.flush()
        await self.until(lambda: self.response(sid) is not None)
        return H2WebSocket(self, sid)


class H2WebSocket:
    def __init__(self, client: H2WebSocketClient, sid: int) -> None:
        self.client, self.sid = client, sid
        self.headers = client.response(sid) or {}
        self.frames = FrameProtocol(client=True, extensions=[])
        self.seen = 0  # bytes of the stream's data already given to the codec

    async def send(self, text: str) -> None:
        self.client.conn.send_data(self.sid, self.frames.send_data(text, fin=True))
        self.client.flush()

    async def recv(self) -> Any:
        """The next frame: ``str`` for text, ``(code, reason)`` for a close frame."""
        while True:
            data = self.client.data.get(self.sid, bytearray())
            if len(data) > self.seen:
                self.frames.receive_bytes(bytes(data[self.seen :]))
                self.seen = len(data)
            for frame in self.frames.received_frames():
                if frame.opcode is Opcode.TEXT:
                    return frame.payload
                if frame.opcode is Opcode.CLOSE:
                    return frame.payload
            await self.client.until(self._more_than(len(data)))

    def _more_than(self, size: int) -> Any:
        return lambda: len(self.client.data.get(self.sid, b"")) > size

    async def close(self) -> None:
        self.client.conn.send_data(self.sid, self.frames.close(1000, "bye"), end_stream=True)
        self.client.flush()


async def test_websocket_over_h2_reaches_the_same_consumer() -> None:
    chat = Chat()
    async with serve(chat) as (iface, _probe, _worker):
        client = await H2WebSocketClient.connect(port_of(iface))
        ws = await client.open("/room/2?x=y", **{"sec-websocket-protocol": "a, b"})
        assert ws.headers[":status"] == "200"
        assert ws.headers["sec-websocket-protocol"] == "b"
        assert ws.headers["x-hello"] == "world"
        await ws.send("hi")
        assert await ws.recv() == "echo:hi"
        # A second socket and a plain request on the same connection, at once.
        other = await client.open("/room/3")
        await other.send("there")
        assert await other.recv() == "echo:there"
        sid = client.conn.get_next_available_stream_id()
        client.conn.send_headers(
            sid,
            [(":method", "GET"), (":path", "/plain"), (":scheme", "http"), (":authority", "x")],
            end_stream=True,
        )
        client.flush()
        await client.until(lambda: client.ended(sid))
        assert bytes(client.data[sid]) == b"plain http"
        await ws.send("close-me")
        assert await ws.recv() == (4001, "bye")
        await other.close()
        await asyncio.wait_for(chat.closed.wait(), 10)
    connect = next(m for m in chat.seen if m["type"] == "websocket.connect")
    assert connect["path"] == "/room/2"
    assert connect["query_string"] == b"x=y"
    assert connect["scheme"] == "ws"
    assert connect["http_version"] == "2"
    assert connect["subprotocols"] == ["a", "b"]
    assert not any(name.startswith(b":") for name, _ in connect["headers"])


async def test_handshake_held_until_the_consumer_answers() -> None:
    """No ``:status`` until ``websocket.accept``; a refusal is 403, no answer is 504."""
    refusing, silent = Chat(accept=False), Chat(answer=False)
    async with (
        serve(refusing) as (iface, _p1, _w1),
        serve(silent, websocket={"handshake_timeout": 0.5}) as (quiet, probe, _w2),
    ):
        client = await H2WebSocketClient.connect(port_of(iface))
        ws = await client.open("/no")
        assert ws.headers[":status"] == "403"
        await client.until(lambda: client.ended(ws.sid))
        client = await H2WebSocketClient.connect(port_of(quiet))
        sid = client.conn.get_next_available_stream_id()
        client.conn.send_headers(
            sid,
            [(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "http"),
             (":path", "/wait"), (":authority", "x"), ("sec-websocket-version", "13")],
        )  # fmt: skip
        client.flush()
        await asyncio.wait_for(silent.connected.wait(), 10)
        assert client.response(sid) is None  # held
        await client.until(lambda: client.response(sid) is not None)
        assert client.response(sid)[":status"] == "504"  # type: ignore[index]
        await probe.counted("ws_handshake_timeout")

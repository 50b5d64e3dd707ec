"""The linechat interface: one TCP server, one reply channel per connection.

Chat: linechat follows the common chat contract (``telephonist.chat``) the way any
third-party interface can: its events are built with ``make_event`` (a line is a
``message``, ``/me text`` an ``action``, connect and disconnect a ``join`` and a
``leave``), and a chat reply is written with ``rendered_lines`` (a relayed message keeps
its attribution on every line). A line protocol has no reactions, edits or deletes:
``degrade`` sends their fallback text, or declines them (counted, logged).

Limits: a line longer than ``max_line_bytes`` gets an error line and the connection is
closed (a line protocol cannot resynchronise cheaply); beyond ``max_connections`` a new
client gets an error line and is closed at once. Overload (``ChannelFull`` from the
host) is answered the way line protocols do it: an error line, then the server stops
reading from that client for ``overload_pause`` seconds, so TCP pushes back on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from typing import Any

from pydantic import Field

from telephonist.chat import (
    ChatContractError,
    EventKind,
    RateLimitedLog,
    degrade,
    is_chat_reply,
    make_event,
    rendered_lines,
    validate_reply,
)
from telephonist.core.codec import Content
from telephonist.core.exceptions import ChannelFull, MessageTooLarge
from telephonist.interfaces.base import ABORT, Interface, InterfaceConfig, InterfaceHost

__all__ = ["LineChatConfig", "LineChatInterface"]


class LineChatConfig(InterfaceConfig):
    host: str = Field(default="127.0.0.1", description="address to listen on")
    port: int = Field(default=7000, ge=0, le=65535, description="TCP port; 0 picks a free one")
    max_line_bytes: int = Field(default=1024, ge=16, description="longest line accepted")
    max_connections: int = Field(default=100, ge=1, description="clients served at once")
    room: str = Field(default="lobby", description="room a new client starts in")
    overload_pause: float = Field(
        default=1.0, gt=0, description="seconds reading pauses after an overload"
    )
    write_timeout: float = Field(
        default=10.0, gt=0, description="seconds a client may take to accept our output"
    )


class _Client:
    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, user: str, room: str
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.user = user
        self.room = room
        self.reply = ""
        self.unanswered = 0  # lines sent since our last output: "work in flight"
        self.sent = 0  # messages sent: their ids
        self.closed = False
        self.reading: asyncio.Task[None] | None = None


class LineChatInterface(Interface):
    name = "linechat"
    config_model = LineChatConfig
    event_channels = ("linechat.connect", "linechat.message", "linechat.disconnect")

    config: LineChatConfig

    def __init__(self, config: InterfaceConfig, host: InterfaceHost) -> None:
        super().__init__(config, host)
        self._server: asyncio.Server | None = None
        self._clients: set[_Client] = set()
        self._names = itertools.count(1)
        self._answered = asyncio.Event()
        self._declines = RateLimitedLog(self.log)

    def _event(self, client: _Client, kind: EventKind, text: str = "") -> Content:
        message_id = None
        if kind in ("message", "action"):
            client.sent += 1
            message_id = f"{client.reply}.{client.sent}"
        # A join or leave is this connection's own: is_self, as the contract says.
        own = kind in ("join", "leave")
        event = make_event("linechat", kind, text=text, room=client.room, user=client.user,
                           message_id=message_id, is_self=own)  # fmt: skip
        return dict(event)

    # -- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._accept,
            self.config.host,
            self.config.port,
            limit=self.config.max_line_bytes + 1,  # + the newline
        )

    def endpoints(self) -> list[str]:
        if self._server is None:
            return []
        return [f"tcp://{s.getsockname()[0]}:{s.getsockname()[1]}" for s in self._server.sockets]

    def status(self) -> dict[str, Any]:
        return {"connections": len(self._clients)}

    async def stop(self, drain_timeout: float) -> None:
        if self._server is not None:
            self._server.close()  # stop accepting
        for client in list(self._clients):
            if client.reading is not None:
                client.reading.cancel()  # stop reading: no new work
        loop = asyncio.get_running_loop()
        deadline = loop.time() + drain_timeout
        # Drain: wait until every line a client sent has been answered, or the deadline.
        while any(c.unanswered for c in self._clients) and loop.time() < deadline:
            self._answered.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._answered.wait(), deadline - loop.time())
        for client in list(self._clients):
            await self._write(client, ["* server shutting down, goodbye"])
            await self._finish(client, "server shutdown")

    # -- one client -------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = _Client(reader, writer, f"guest{next(self._names)}", self.config.room)
        if len(self._clients) >= self.config.max_connections:
            self.host.count("rejected_connections")
            await self._write(client, ["error: too many connections, try again later"])
            writer.close()
            return
        self._clients.add(client)
        client.reply = await self.host.open_reply_channel(
            lambda message: self._on_reply(client, message), prefix="linechat"
        )
        peer = writer.get_extra_info("peername") or ("?", 0)
        try:
            await self.host.send_event(
                "linechat.connect",
                {
                    **self._event(client, "join"),
                    "type": "linechat.connect",
                    "client": [str(peer[0]), int(peer[1])],
                },
                connection=client.reply,
            )
        except ChannelFull:
            await self._write(client, ["error: server overloaded, try again later"])
            await self._finish(client, "overloaded")
            return
        client.reading = asyncio.current_task()
        try:
            await self._read_lines(client)
        except asyncio.CancelledError:
            return  # stop(): the drain and goodbye are done there
        await self._finish(client, "client closed")

    async def _read_lines(self, client: _Client) -> None:
        while not client.closed:
            try:
                raw = await client.reader.readuntil(b"\n")
            except asyncio.LimitOverrunError:
                self.host.count("line_too_long")
                await self._write(
                    client, [f"error: line too long (max {self.config.max_line_bytes} bytes)"]
                )
                return
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            text = raw.decode("utf-8", "replace").rstrip("\r\n")
            if text.startswith("/nick ") and text[6:].strip():
                client.user = text[6:].strip()
                continue
            if text.startswith("/join ") and text[6:].strip():
                client.room = text[6:].strip()
                continue
            if text.startswith("/me ") and text[4:].strip():
                message = {**self._event(client, "action", text[4:]), "type": "linechat.message"}
            else:
                message = {**self._event(client, "message", text), "type": "linechat.message"}
            try:
                await self.host.send_event("linechat.message", message, connection=client.reply)
            except ChannelFull:
                self.host.count("overloaded")
                await self._write(client, ["error: server overloaded, slow down"])
                await asyncio.sleep(self.config.overload_pause)  # pause reading
                continue
            except MessageTooLarge:
                await self._write(client, ["error: message too large"])
                continue
            client.unanswered += 1

    async def _on_reply(self, client: _Client, message: Content) -> None:
        kind = message.get("type")
        if kind == ABORT:
            await self._write(client, [f"error: connection aborted ({message.get('reason')})"])
            await self._finish(client, "aborted")
            return
        if kind == "linechat.close":
            text = message.get("text")
            if isinstance(text, str):
                await self._write(client, text.splitlines() or [""])
            await self._finish(client, "closed by server")
        elif is_chat_reply(message):
            await self._chat_reply(client, message)
        else:
            self.host.count("unknown_replies")

    async def _chat_reply(self, client: _Client, message: Content) -> None:
        try:
            reply = validate_reply(message)
        except ChatContractError as exc:
            self.host.count("unknown_replies")
            self.log.warning("linechat: refused a reply: %s", exc)
            return
        supported = ("message", "action", "notice")
        outcome = degrade(reply, supported, self.host.count, self._declines, "linechat")
        if outcome.reply is not None:
            await self._write(client, rendered_lines(outcome.reply))

    async def _write(self, client: _Client, lines: list[str]) -> None:
        if client.closed or client.writer.is_closing():
            return
        client.unanswered = 0
        self._answered.set()
        client.writer.write("".join(f"{line}\n" for line in lines).encode())
        try:
            await asyncio.wait_for(client.writer.drain(), self.config.write_timeout)
        except (TimeoutError, ConnectionError):
            await self._finish(client, "write failed")

    async def _finish(self, client: _Client, reason: str) -> None:
        if client.closed:
            return
        client.closed = True
        self._clients.discard(client)
        self._answered.set()
        if client.reply:
            # The last event goes out before the reply channel closes: the host then
            # tells the worker to drop the connection's state after this event.
            leave = self._event(client, "leave")
            with contextlib.suppress(Exception):
                await self.host.send_event(
                    "linechat.disconnect",
                    {**leave, "type": "linechat.disconnect", "reason": reason},
                    connection=client.reply,
                )
            self.host.close_reply_channel(client.reply)
        client.writer.close()
        if client.reading is not None and client.reading is not asyncio.current_task():
            client.reading.cancel()

"""The people of the chat tests: one real client per protocol, behind one small face.

Each client connects to the running stack, says things (``say``), does the other things
its protocol lets people do (``act``: an action, a reaction, an edit, a topic...), and
reads what it is shown, as plain lines of text (``next_line``) or, for the JSON
WebSocket, as frames (``next_frame``). Waits are bounded; nothing sleeps.
"""

from __future__ import annotations

import asyncio
import json
import smtplib
from email.message import EmailMessage
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from telephonist.interfaces.irc.lines import Line
from tests.chat.stack import DOMAIN, ChatStack
from tests.irc.peer import Peer

__all__ = ["IrcClient", "LineClient", "MailClient", "WebClient"]

WAIT = 15.0


class WebClient:
    """A browser's WebSocket, speaking the JSON protocol or plain frames."""

    def __init__(self, ws: ClientConnection, json_mode: bool) -> None:
        self.ws = ws
        self.json_mode = json_mode
        self.hello: dict[str, Any] = {}
        self._nonce = 0

    @classmethod
    async def open(
        cls, stack: ChatStack, room: str, name: str, json_mode: bool = True
    ) -> WebClient:
        url = f"ws://127.0.0.1:{stack.ports['http']}/chat/{room}/?name={name}"
        protocols: Any = ["telephonist.chat.v2"] if json_mode else None
        ws = await connect(url, subprotocols=protocols, open_timeout=WAIT)
        client = cls(ws, json_mode)
        if json_mode:
            assert ws.subprotocol == "telephonist.chat.v2"
            client.hello = await client.next_frame(lambda f: f["type"] == "hello")
        return client

    async def send(self, **frame: Any) -> str:
        """A JSON frame; returns its nonce."""
        self._nonce += 1
        nonce = str(self._nonce)
        await self.ws.send(json.dumps({**frame, "nonce": nonce}))
        return nonce

    async def say(self, text: str) -> None:
        if self.json_mode:
            await self.send(text=text)
        else:
            await self.ws.send(text)

    async def next_frame(self, match: Any = lambda f: True, within: float = WAIT) -> Any:
        async with asyncio.timeout(within):
            while True:
                raw = await self.ws.recv()
                frame = json.loads(raw) if self.json_mode else raw
                if match(frame):
                    return frame

    async def next_line(self, within: float = WAIT) -> str:
        if self.json_mode:
            frame = await self.next_frame(lambda f: f["type"] == "event", within)
            return str(frame["text"])
        return str(await self.next_frame(lambda f: True, within))

    async def close(self) -> None:
        await self.ws.close()


class IrcClient:
    """A person on IRC: a raw-socket client in the bot's channel."""

    def __init__(self, peer: Peer, channel: str, bot: str) -> None:
        self.peer = peer
        self.channel = channel
        self.bot = bot

    @classmethod
    async def open(
        cls, port: int, nick: str, channel: str, bot: str, tags: bool = False
    ) -> IrcClient:
        peer = Peer(nick)
        await peer.connect(port, caps=("message-tags",) if tags else ())
        client = cls(peer, channel, bot)
        await client.join()
        return client

    async def join(self) -> None:
        """Join and wait until the bot is there too (it may join after us)."""
        self.peer.send(f"JOIN {self.channel}")

        def bot_here(line: Line) -> bool:
            if line.command == "JOIN" and line.source is not None:
                return line.source.nick == self.bot
            names = line.param(3).replace("@", " ").replace("+", " ").split()
            return line.command == "353" and self.bot in names

        await self.peer.expect(bot_here, WAIT)

    def say(self, text: str, target: str | None = None) -> None:
        self.peer.send(f"PRIVMSG {target or self.channel} :{text}")

    async def from_bot(self, commands: tuple[str, ...] = ("PRIVMSG", "NOTICE")) -> Line:
        def wanted(line: Line) -> bool:
            return (
                line.command in commands
                and line.source is not None
                and line.source.nick == self.bot
            )

        return await self.peer.expect(wanted, WAIT)

    async def next_line(self) -> str:
        return (await self.from_bot()).param(1)

    async def close(self) -> None:
        await self.peer.close()


class LineClient:
    """A linechat user: a TCP socket, one line per message."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, stack: ChatStack, name: str, room: str) -> LineClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", stack.ports["linechat"])
        client = cls(reader, writer)
        client.send(f"/nick {name}")
        client.send(f"/join {room}")
        return client

    def send(self, line: str) -> None:
        self.writer.write(line.encode() + b"\n")

    def say(self, text: str) -> None:
        self.send(text)

    async def next_line(self, within: float = WAIT) -> str:
        async with asyncio.timeout(within):
            data = await self.reader.readline()
        if not data:
            raise ConnectionError("linechat closed the connection")
        return data.decode().rstrip("\n")

    async def close(self) -> None:
        self.writer.close()


class UdpClient(asyncio.DatagramProtocol):
    """A udpchat user: a UDP socket of its own, one datagram per line."""

    def __init__(self) -> None:
        self.lines: asyncio.Queue[str] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None

    @classmethod
    async def open(cls, stack: ChatStack, name: str) -> UdpClient:
        loop = asyncio.get_running_loop()
        _, client = await loop.create_datagram_endpoint(
            cls, local_addr=("127.0.0.1", 0), remote_addr=("127.0.0.1", stack.ports["udpchat"])
        )
        client.say(f"/nick {name}")
        return client

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a datagram endpoint's

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.lines.put_nowait(data.decode())

    def say(self, text: str) -> None:
        assert self.transport is not None
        self.transport.sendto(text.encode())

    async def next_line(self, within: float = WAIT) -> str:
        async with asyncio.timeout(within):
            return await self.lines.get()

    async def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class MailClient:
    """Someone mailing a room's mailbox (smtplib, in a thread) and reading the replies
    the relay got."""

    def __init__(self, stack: ChatStack, address: str, name: str) -> None:
        self.stack = stack
        self.address = address
        self.name = name
        self.sent = 0

    async def say(self, text: str, mailbox: str, **headers: str) -> str:
        """Mail ``text`` to ``mailbox``@DOMAIN; returns the Message-ID."""
        self.sent += 1
        mail = EmailMessage()
        mail["From"] = f"{self.name} <{self.address}>"
        mail["To"] = f"{mailbox}@{DOMAIN}"
        mail["Subject"] = "chat"
        message_id = f"<m{self.sent}.{id(self)}@example.org>"
        mail["Message-ID"] = message_id
        for key, value in headers.items():
            mail[key.replace("_", "-")] = value
        mail.set_content(text)
        port = self.stack.ports["email"]

        def send() -> None:
            with smtplib.SMTP("127.0.0.1", port, timeout=WAIT) as smtp:
                smtp.send_message(mail)

        await asyncio.to_thread(send)
        return message_id

    async def next_mail(self) -> EmailMessage:
        """The next mail the relay got for this person (others' are skipped)."""
        async with asyncio.timeout(WAIT):
            while True:
                mail = await self.stack.sink.next()
                if any(a.addr_spec == self.address for a in mail["To"].addresses):
                    return mail

    async def next_line(self) -> str:
        mail = await self.next_mail()
        body = mail.get_body(("plain",))
        assert body is not None
        return "\n".join(str(body.get_content()).strip().splitlines())

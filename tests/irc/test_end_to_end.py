"""End to end: a real IRC server, the production host, a worker, routing, and one
``ChatConsumer`` subclass that answers on IRC and, in the same process, on WebSocket.
An independent raw-socket IRC client and the ``websockets`` client are the users."""

from __future__ import annotations

import asyncio
import time

import pytest
from websockets.asyncio.client import connect

from telephonist.consumers import ChatConsumer
from telephonist.interfaces.http import HttpConfig
from telephonist.interfaces.irc import IrcConfig, spec
from telephonist.routing import route_class
from tests.http.harness import http_plugin, port_of, twisted_reactor
from tests.irc.conftest import network
from tests.irc.peer import Peer, joined, too_early
from tests.irc.servers import Ngircd
from tests.irc.stack import IrcStack


class PingBot(ChatConsumer):
    """What a user writes once and runs on every chat protocol."""

    def on_chat(self, text: str, user: str, room: str) -> None:
        if text == "!ping":
            self.reply("pong")
        elif text == "!fifty":
            self.reply("\n".join(f"line {i}" for i in range(50)))
        elif text == "!inject":
            # What a careless consumer might send with text taken from users.
            self.reply("ok\r\nQUIT :pwned")
            self.reply({"type": spec.SEND_MESSAGE, "target": f"{room}\r\nQUIT", "text": "x"})
            self.reply({"type": spec.SEND_KICK, "nick": "victim :x\nQUIT"})
            self.reply("done")


#: Only the chat events ChatConsumer routes; see docs/irc.md ("events").
CHAT_EVENTS = ("receive", "join", "part")


async def test_routed_chat_consumer_answers_on_irc(ngircd: Ngircd, room: str, nick: str) -> None:
    config = IrcConfig(networks=[network(ngircd.port, nick, channels=[room], flood_burst=5,
                                         flood_rate=40.0)], events=CHAT_EVENTS)  # fmt: skip
    stack = await IrcStack.start(config, [route_class(PingBot)])
    alice = Peer("e2ealice")
    try:
        await alice.connect(ngircd.port)
        await alice.join(room)
        await alice.expect(joined(nick, room), within=15)

        alice.send(f"PRIVMSG {room} :!ping")
        (pong,) = await alice.privmsgs(room, 1, sender=nick)
        assert pong.line.param(1) == "pong"

        alice.send(f"PRIVMSG {nick} :!ping")
        (private,) = await alice.privmsgs("e2ealice", 1, sender=nick)
        assert private.line.param(1) == "pong"

        since = time.monotonic()
        alice.send(f"PRIVMSG {room} :!fifty")
        lines = await alice.privmsgs(room, 50, sender=nick)
        assert [r.line.param(1) for r in lines] == [f"line {i}" for i in range(50)]
        assert too_early(lines, since, 5, 40.0) == []  # complete, and paced

        alice.send(f"PRIVMSG {room} :!inject")
        got = await alice.privmsgs(room, 3, sender=nick)
        assert [r.line.param(1) for r in got] == ["ok", "QUIT :pwned", "done"]
        start = alice.lines.index(got[0])
        from_bot = [
            r.line.command for r in alice.lines[start:]
            if r.line.source is not None and r.line.source.nick == nick
        ]  # fmt: skip
        assert set(from_bot) == {"PRIVMSG"}
        assert stack.counters["rejected"] == 2

        alice.send(f"PRIVMSG {room} :!ping")  # still there, still answering
        (again,) = await alice.privmsgs(room, 1, sender=nick)
        assert again.line.param(1) == "pong"
    finally:
        await alice.close()
        await stack.stop()


@pytest.mark.asyncio(loop_scope="session")  # Twisted's reactor is bound to one loop
async def test_the_same_chat_consumer_answers_on_irc_and_websocket(
    ngircd: Ngircd, room: str, nick: str
) -> None:
    twisted_reactor()
    web = http_plugin(HttpConfig(endpoints=["tcp:port=0:interface=127.0.0.1"]))
    config = IrcConfig(networks=[network(ngircd.port, nick, channels=[room])], events=CHAT_EVENTS)
    stack = await IrcStack.start(config, [route_class(PingBot)], extra=[web])
    alice = Peer("e2ebob")
    try:
        await alice.connect(ngircd.port)
        await alice.join(room)
        await alice.expect(joined(nick, room), within=15)
        alice.send(f"PRIVMSG {room} :!ping")
        (pong,) = await alice.privmsgs(room, 1, sender=nick)
        assert pong.line.param(1) == "pong"

        port = port_of(stack.server.interfaces["http"])  # type: ignore[arg-type]
        async with connect(f"ws://127.0.0.1:{port}/chat/lobby/") as ws:
            await ws.send("!ping")
            assert await asyncio.wait_for(ws.recv(), 10) == "pong"
    finally:
        await alice.close()
        await stack.stop()

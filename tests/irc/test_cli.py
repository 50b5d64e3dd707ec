"""A user's view: ``telephonist run`` with a routing module and a ``telephonist.toml``
that points the IRC interface at a network. Nothing but configuration."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from pathlib import Path

from telephonist.testing.processes import Process
from tests.irc.peer import Peer, joined
from tests.irc.servers import Ngircd

BOT = """
from telephonist.consumers import ChatConsumer
from telephonist.routing import route_class


class PingBot(ChatConsumer):
    def on_chat(self, text, user, room):
        if text == "!ping":
            self.reply(f"pong, {user}")


routes = [route_class(PingBot)]
"""


async def test_telephonist_run_joins_answers_and_quits(
    ngircd: Ngircd, tmp_path: Path, room: str, nick: str
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "bot.py").write_text(BOT)
    (project / "telephonist.toml").write_text(
        textwrap.dedent(
            f"""
            routing = "bot.routes"

            [[interfaces.irc.networks]]
            name = "local"
            host = "127.0.0.1"
            port = {ngircd.port}
            tls = false
            nick = "{nick}"
            channels = ["{room}"]
            """
        )
    )
    # Only this test's settings: TELEPHONIST_* variables are settings to the command
    # (a developer's own TELEPHONIST_* would leak into this run).
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEPHONIST_")}
    env["TELEPHONIST_STATUS__SOCKET_DIR"] = str(tmp_path / "status")
    proc = Process(
        [sys.executable, "-m", "telephonist.cli", "run"],
        log=tmp_path / "run.log", cwd=project, env=env,
    )  # fmt: skip
    alice = Peer("clialice")
    try:
        await alice.connect(ngircd.port)
        await alice.join(room)
        await alice.expect(joined(nick, room), within=20)  # the bot is up
        alice.send(f"PRIVMSG {room} :!ping")
        (pong,) = await alice.privmsgs(room, 1, sender=nick)
        assert pong.line.param(1) == "pong, clialice"
        proc.signal(signal.SIGTERM)
        quit_ = await alice.expect(lambda ln: ln.command == "QUIT")
        assert quit_.source is not None
        assert quit_.source.nick == nick
        assert await asyncio.to_thread(proc.wait, 20) == 0
    finally:
        await alice.close()
        await asyncio.to_thread(proc.stop)
    assert "interface irc: irc://127.0.0.1" in proc.output()

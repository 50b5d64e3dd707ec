"""The multichat example bridged to a real IRC server by configuration alone.

The example runs in its own process (``manage.py runserver`` through ``LiveServer``)
with ``TELEPHONIST_INTERFACES__IRC__NETWORKS`` pointing at a private ngircd (the
Telephonist setting, not the example's own ``MULTICHAT_IRC``: every channel the bot is
in is bridged to the room of its name); a raw IRC client in ``#lobby`` and a WebSocket
client of the chat JSON protocol in room ``lobby`` talk to each other. Waits are
bounded waits on lines and frames, never sleeps.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import websockets

from telephonist.django.testing import LiveServer
from telephonist.interfaces.irc.lines import Line
from tests.irc.peer import Peer, joined
from tests.irc.servers import Ngircd

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "multichat"
BOT = "multichatbot"


@pytest.fixture(scope="module")
def bridged(ngircd: Ngircd) -> Iterator[LiveServer]:
    networks = [
        {"name": "local", "host": "127.0.0.1", "port": ngircd.port, "tls": False,
         "nick": BOT, "channels": [{"name": "#lobby"}]}
    ]  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="multichat-irc-") as tmp:
        env = {
            "DJANGO_SETTINGS_MODULE": "multichat.settings",
            "MULTICHAT_DB": str(Path(tmp) / "db.sqlite3"),
            "TELEPHONIST_INTERFACES__IRC__NETWORKS": json.dumps(networks),
        }
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=EXAMPLE, env={**os.environ, **env}, check=True, timeout=120,
        )  # fmt: skip
        server = LiveServer(
            ["interfaces.email.port=0"], env=env, cwd=EXAMPLE, databases={}, timeout=60
        )
        with server:
            yield server


def bot_is_in_lobby(line: Line) -> bool:
    if joined(BOT, "#lobby")(line):
        return True
    names = line.param(3) or ""
    return line.command == "353" and BOT in names.replace("@", " ").split()


async def _event(ws: websockets.ClientConnection, text: str) -> dict[str, object]:
    async with asyncio.timeout(20):
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == "event" and frame["text"] == text:
                return dict(frame)


async def test_irc_and_browser_talk_through_one_room(bridged: LiveServer, ngircd: Ngircd) -> None:
    irc = Peer("ircann")
    await irc.connect(ngircd.port)
    try:
        # The bridge is up once the bot is in #lobby: it joins after us, or it is
        # already in the NAMES list we get on joining. Retry the join until one shows.
        async with asyncio.timeout(30):
            while True:
                await irc.join("#lobby")
                try:
                    await irc.expect(bot_is_in_lobby, within=3)
                    break
                except TimeoutError:
                    irc.send("PART #lobby")
        url = bridged.ws_url("/chat/lobby/") + "?name=webbob"
        async with websockets.connect(
            url, open_timeout=10, subprotocols=[websockets.Subprotocol("telephonist.chat.v2")]
        ) as ws:
            hello = json.loads(await ws.recv())
            assert hello["type"] == "hello"

            irc.send("PRIVMSG #lobby :hello from irc")
            event = await _event(ws, "hello from irc")
            assert (event["user"], event["protocol"]) == ("ircann", "irc")

            await ws.send(json.dumps({"text": "hi from the web"}))
            said = await irc.privmsgs("#lobby", 1, within=20, sender=BOT)
            # What the bot says in #lobby is the browser side, attributed; the IRC
            # user's own line was not repeated back into the channel it came from.
            assert [r.line.param(1) for r in said] == ["[web] <webbob> hi from the web"]
    finally:
        await irc.close()

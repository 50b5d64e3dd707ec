"""The multichat example bridged to a real IRC server by configuration alone.

The example runs in its own process (``manage.py runserver`` through ``LiveServer``)
with ``TELEPHONIST_INTERFACES__IRC__NETWORKS`` pointing at a private ngircd; a raw IRC
client in ``#lobby`` and a WebSocket client in room ``lobby`` talk to each other. Waits
are bounded waits on lines and frames, never sleeps.
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


async def _frames_until(ws: websockets.ClientConnection, wanted: str) -> list[str]:
    seen: list[str] = []
    async with asyncio.timeout(20):
        while wanted not in seen:
            seen.append(str(await ws.recv()))
    return seen


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
        async with websockets.connect(url, open_timeout=10) as ws:
            await _frames_until(ws, "* webbob joined #lobby")

            irc.send("PRIVMSG #lobby :hello from irc")
            await _frames_until(ws, "<ircann> hello from irc")

            await ws.send("hi from the web")
            said = await irc.privmsgs("#lobby", 2, within=20, sender=BOT)
            # What the bot says in #lobby is the browser side, in order; the IRC user's
            # own line was not repeated back into the channel it came from.
            assert [r.line.param(1) for r in said] == [
                "* webbob joined #lobby",
                "<webbob> hi from the web",
            ]
    finally:
        await irc.close()

"""The multichat example as its tests run it: where it lives, its database, a private
ngircd (the ``ircd`` fixture, made available to ``tests/django`` by its conftest) and an
IRC user in its room. Shared by ``test_multichat*.py``; the page is ``chatpage.py``.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from telephonist.django.testing import LiveServer
from tests.irc.conftest import start_ngircd
from tests.irc.peer import Peer
from tests.irc.servers import Ngircd

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "multichat"
BOT = "multichat"


def migrate(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=EXAMPLE, env={**os.environ, **env}, check=True, timeout=120,
    )  # fmt: skip


@pytest.fixture(scope="module")
def ircd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ngircd]:
    server = start_ngircd(tmp_path_factory.mktemp("multichat-ircd"))
    yield server
    server.stop()


def smtp_port(server: LiveServer) -> int:
    """The port the example's mail interface listens on."""
    return int(server.urls["email"][0].rsplit(":", 1)[1])


async def irc_user(port: int, nick: str) -> Peer:
    """``nick`` connected to the private ngircd and in #lobby, once the example's bot is."""
    peer = Peer(nick)
    await peer.connect(port)
    async with asyncio.timeout(30):
        while True:  # the bridge is up once the bot is in #lobby (it may join after us)
            peer.send("JOIN #lobby")
            try:
                await peer.expect(
                    lambda ln: (ln.command == "JOIN" and ln.source is not None
                                and ln.source.nick == BOT)
                    or (ln.command == "353" and BOT in ln.param(3).replace("@", " ").split()),
                    within=3,
                )  # fmt: skip
                return peer
            except TimeoutError:
                peer.send("PART #lobby")

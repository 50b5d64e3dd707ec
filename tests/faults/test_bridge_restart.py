"""A chat bridge survives its worker's death: the multichat example split over a real
Redis (``manage.py runinterfaces`` + ``manage.py runworker``), bridged to a private
ngircd, with an IRC user in ``#lobby`` and a WebSocket client of the chat protocol in
room ``lobby``. The worker is SIGKILLed and a new one started, as a supervisor would.

What must hold: the interface server notices the loss (heartbeats), closes the
browser's socket the WebSocket way (a close frame, not a reset) so the page reconnects,
and *unbinds* the IRC conversation instead of ending it: a line from the web reaches IRC
before anyone on IRC has spoken again (the conversation's reply channel is still in the
room's group), and the next IRC line binds the new worker and reaches the web. One
warning line names the conversation; nothing crashes.

Self-contained: its own ngircd and processes; the session's Redis with a key prefix of
its own. Every wait is bounded and waits on a line, a frame or a process.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import websockets

from telephonist.interfaces.irc.lines import Line
from telephonist.testing.processes import Process, free_port
from tests.irc.conftest import start_ngircd
from tests.irc.peer import Peer, joined
from tests.irc.servers import Ngircd
from tests.servers import RedisServer

pytestmark = [pytest.mark.redis]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "multichat"
BOT = "restartbot"
WAIT = 60.0
CHAT = [websockets.Subprotocol("telephonist.chat.v2")]


@pytest.fixture(scope="module")
def ircd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ngircd]:
    server = start_ngircd(tmp_path_factory.mktemp("bridge-restart-ircd"))
    yield server
    server.stop()


class Deployment:
    """``runinterfaces`` and the workers of one test, started and stopped by PID."""

    def __init__(self, redis: RedisServer, ircd: Ngircd, tmp: Path) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "multichat.settings",
            "MULTICHAT_DB": str(tmp / "db.sqlite3"),
            "MULTICHAT_IRC": f"irc://127.0.0.1:{ircd.port}/#lobby?nick={BOT}",
            "PYTHONUNBUFFERED": "1",
            "TELEPHONIST_LAYER__BACKEND": "redis",
            "TELEPHONIST_LAYER__CONFIG__HOSTS": json.dumps([redis.url]),
            "TELEPHONIST_LAYER__CONFIG__PREFIX": f"bridge-restart-{tmp.name}",
            "TELEPHONIST_INTERFACES__HTTP__ENDPOINTS": json.dumps(
                [f"tcp:port={self.port}:interface=127.0.0.1"]
            ),
            "TELEPHONIST_INTERFACES__EMAIL__PORT": "0",
            # A dead worker is noticed after 0.5 s x 3 of silence, not the default 6 s.
            "TELEPHONIST_AFFINITY__HEARTBEAT_INTERVAL": "0.5",
        }
        self.processes: list[Process] = []

    def start(self, command: str) -> Process:
        proc = Process(
            [sys.executable, "manage.py", command],
            log=self.tmp / f"{command}-{len(self.processes)}.log", cwd=EXAMPLE, env=self.env,
        )  # fmt: skip
        self.processes.append(proc)
        proc.wait_for_line(r"^telephonist: ready$", timeout=WAIT)
        return proc

    def migrate(self) -> None:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=EXAMPLE, env=self.env, check=True, timeout=120,
        )  # fmt: skip

    def stop(self) -> None:
        for proc in reversed(self.processes):
            proc.stop()


@pytest.fixture
def deployment(redis_server: RedisServer, ircd: Ngircd, tmp_path: Path) -> Iterator[Deployment]:
    found = Deployment(redis_server, ircd, tmp_path)
    found.migrate()
    try:
        yield found
    finally:
        found.stop()


def _bot_in_lobby(line: Line) -> bool:
    if joined(BOT, "#lobby")(line):
        return True
    return line.command == "353" and BOT in (line.param(3) or "").replace("@", " ").split()


async def _irc_user(port: int) -> Peer:
    carol = Peer("carol")
    await carol.connect(port)
    async with asyncio.timeout(WAIT):
        while True:  # the bridge is up once the bot is in #lobby (it may join after us)
            await carol.join("#lobby")
            try:
                await carol.expect(_bot_in_lobby, within=3)
                return carol
            except TimeoutError:
                carol.send("PART #lobby")


async def _event(ws: websockets.ClientConnection, text: str) -> dict[str, object]:
    async with asyncio.timeout(WAIT):
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == "event" and frame["text"] == text:
                return dict(frame)


async def _closed(ws: websockets.ClientConnection) -> int | None:
    async with asyncio.timeout(WAIT):
        try:
            while True:
                await ws.recv()
        except websockets.ConnectionClosed:
            return ws.close_code


async def _both_ways(ws: websockets.ClientConnection, carol: Peer, tag: str) -> None:
    await ws.send(json.dumps({"text": f"{tag} from the web"}))
    said = await carol.privmsgs("#lobby", 1, within=WAIT, sender=BOT)
    assert said[0].line.param(1) == f"[web] <webann> {tag} from the web"
    carol.send(f"PRIVMSG #lobby :{tag} from irc")
    event = await _event(ws, f"{tag} from irc")
    assert (event["user"], event["protocol"]) == ("carol", "irc")


async def test_irc_bridge_keeps_working_both_ways_across_a_worker_restart(
    deployment: Deployment, ircd: Ngircd
) -> None:
    # The worker first, so the bot's join (the first event of its conversation) is
    # taken at once, whatever the bind timeout.
    first = await asyncio.to_thread(deployment.start, "runworker")
    interfaces = await asyncio.to_thread(deployment.start, "runinterfaces")
    carol = await _irc_user(ircd.port)
    url = f"ws://127.0.0.1:{deployment.port}/chat/lobby/?name=webann"
    try:
        async with websockets.connect(url, open_timeout=10, subprotocols=CHAT) as ws:
            assert json.loads(await ws.recv())["type"] == "hello"
            await _both_ways(ws, carol, "before")

            os.kill(first.pid, signal.SIGKILL)
            assert await asyncio.to_thread(first.wait, WAIT) == -signal.SIGKILL
            await asyncio.to_thread(deployment.start, "runworker")
            # The page's socket was bound to the dead worker: closed with a close
            # frame once the loss is noticed (1011, docs/websocket.md; the page
            # reconnects), never a reset (1006).
            assert await _closed(ws) == 1011

        async with websockets.connect(url, open_timeout=10, subprotocols=CHAT) as ws:
            assert json.loads(await ws.recv())["type"] == "hello"
            # The web speaks first: nobody on IRC has spoken since the restart, so only a
            # conversation that is still in the room's group can carry this to IRC.
            await _both_ways(ws, carol, "after")
    finally:
        await carol.close()
    log = interfaces.output()
    assert "its next event binds another worker" in log, log
    assert "Traceback" not in log, log

"""Ctrl-C and SIGTERM on ``runserver`` under Django's autoreloader stop it as gracefully
as ``--noreload``: the IRC network sees the bot's QUIT, a browser's WebSocket gets
1001, the log ends with "telephonist: stopped" (and no word of consumers left running:
none was) and the exit code is 0.

The multichat example runs with ``make run`` itself and as ``make run`` runs it
(``manage.py runserver``, reloader on), bridged to a private ngircd, in a session of
its own so that its process group is make (if any) and the reloader's parent and child.
The ways to stop it:

* ``SIGINT`` to the process group: what a terminal does on Ctrl-C (``make`` is in that
  group too and waits for its child);
* ``SIGTERM`` to the reloader's parent only: what ``make`` does with the SIGTERM it
  gets (it passes it to its child, which the recipe's ``exec`` makes runserver), and
  what ``kill PID`` does; and SIGTERM to ``make`` itself;
* ``SIGKILL`` to the parent: the server process it leaves must stop gracefully too,
  not serve on unsupervised.

Real clients: a raw IRC client in the channel, a ``websockets`` client in the room.
Every wait is a bounded wait on a line, a frame or the process.
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
from telephonist.testing.processes import Process, free_port, wait_until
from tests.irc.conftest import start_ngircd
from tests.irc.peer import Peer, joined
from tests.irc.servers import Ngircd

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "multichat"
BOT = "reloadbot"
WAIT = 60.0


@pytest.fixture(scope="module")
def ircd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ngircd]:
    server = start_ngircd(tmp_path_factory.mktemp("reloader-ircd"))
    yield server
    server.stop()


def _runserver(tmp: Path, ircd: Ngircd, port: int, launcher: str) -> Process:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "multichat.settings",
        "MULTICHAT_DB": str(tmp / "db.sqlite3"),
        "MULTICHAT_IRC": f"irc://127.0.0.1:{ircd.port}/#lobby?nick={BOT}",
        "PYTHONUNBUFFERED": "1",
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=EXAMPLE, env=env, check=True, timeout=120,
    )  # fmt: skip
    run_args = f"127.0.0.1:{port} -s interfaces.email.port=0"
    if launcher == "make":
        # `make run` itself, with this interpreter's venv; -o: never rebuild it here.
        venv = Path(sys.executable).parent.parent
        stamp = venv / ".installed-stamp"
        args = ["make", "-s", "-C", str(ROOT), "-o", str(stamp), f"VENV={venv}", "run"]
        args.append(f"RUN_ARGS={run_args}")
        return Process(args, log=tmp / "make-run.log", cwd=ROOT, env=env, new_session=True)
    args = [sys.executable, "manage.py", "runserver", *run_args.split()]
    return Process(args, log=tmp / "runserver.log", cwd=EXAMPLE, env=env, new_session=True)


def _bot_in_lobby(line: Line) -> bool:
    if joined(BOT, "#lobby")(line):
        return True
    return line.command == "353" and BOT in (line.param(3) or "").replace("@", " ").split()


def _bot_quit(line: Line) -> bool:
    """The bot's own QUIT (its ``quit_message``), not ngircd's notice of a connection
    that dropped ("Client closed connection", "Connection reset by peer")."""
    if line.command != "QUIT" or line.source is None or line.source.nick != BOT:
        return False
    assert "Telephonist" in (line.param(0) or ""), line
    return True


async def _until_closed(ws: websockets.ClientConnection) -> None:
    try:
        while True:
            await ws.recv()
    except websockets.ConnectionClosed:
        return


@pytest.mark.parametrize(
    ("launcher", "how"),
    [
        ("runserver", "sigint-to-group"),
        ("runserver", "sigterm-to-parent"),
        ("runserver", "sigkill-to-parent"),
        ("make", "sigint-to-group"),
        ("make", "sigterm-to-parent"),
    ],
)
async def test_runserver_under_the_reloader_stops_gracefully(
    launcher: str, how: str, ircd: Ngircd, tmp_path: Path
) -> None:
    port = free_port()
    proc = _runserver(tmp_path, ircd, port, launcher)
    irc = Peer(f"w{launcher[:4]}{how[:5]}")
    try:
        await asyncio.to_thread(proc.wait_for_line, r"^Watching for file changes", timeout=WAIT)
        await asyncio.to_thread(proc.wait_for_line, r"^telephonist: ready$", timeout=WAIT)
        await irc.connect(ircd.port)
        # The bot is in #lobby once it joins after us, or is in the NAMES we get.
        async with asyncio.timeout(WAIT):
            while True:
                await irc.join("#lobby")
                try:
                    await irc.expect(_bot_in_lobby, within=3)
                    break
                except TimeoutError:
                    irc.send("PART #lobby")
        url = f"ws://127.0.0.1:{port}/chat/lobby/?name=webann"
        chat = [websockets.Subprotocol("telephonist.chat.v2")]
        async with websockets.connect(url, open_timeout=10, subprotocols=chat) as ws:
            hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert hello["type"] == "hello"
            if how == "sigint-to-group":
                os.killpg(proc.pid, signal.SIGINT)
            elif how == "sigterm-to-parent":
                os.kill(proc.pid, signal.SIGTERM)
            else:  # the parent dies: the server process must not serve on unsupervised
                os.kill(proc.pid, signal.SIGKILL)
            await irc.expect(_bot_quit, within=WAIT)
            async with asyncio.timeout(WAIT):
                await _until_closed(ws)
            assert ws.close_code == 1001, (ws.close_code, ws.close_reason)
        code = await asyncio.to_thread(proc.wait, WAIT)
        if how == "sigkill-to-parent":
            assert code == -signal.SIGKILL
            # The server process (not ours to wait for) says it stopped, in the log.
            await asyncio.to_thread(
                wait_until,
                lambda: "telephonist: stopped" in proc.output(),
                timeout=WAIT,
                what="the server process's last line",
            )
        log = proc.output()
        if launcher == "make":  # make ends by the signal it got, once runserver is done
            assert code in (0, 2, -signal.SIGINT, -signal.SIGTERM), log
        else:
            assert code in (0, -signal.SIGKILL), log
        assert "telephonist: stopped" in log, log
        assert "Traceback" not in log, log
        # Nothing was running: the drain has nothing to give up on.
        assert "still running after the drain" not in log, log
    finally:
        await irc.close()
        proc.kill()

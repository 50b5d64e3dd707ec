"""Helpers for runtime tests that need real processes and real sockets.

Every wait is bounded and waits on something observable (a line on a process's stdout,
a line on a socket), never on a fixed sleep; every subprocess started here is killed in
teardown, by the PID we started (``telephonist.testing.processes``).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from telephonist.testing.processes import Process

TELEPHONIST = [sys.executable, "-m", "telephonist.cli"]
TIMEOUT = 20.0  # upper bound for anything a test waits on; passing runs take far less

# A small chat application: the routing and consumers a user would write. The connect
# consumer reports the worker's pid; per-connection state (a counter) lives in the
# worker, which is only correct if every event of a connection reaches the same worker
# in order.
CHAT_APP = """
import asyncio
import os
import random
import sys
import time

from telephonist.routing import route
from telephonist.worker import connection_released

COUNTS = {}


@connection_released.connect
def forget(connection, **kwargs):
    COUNTS.pop(connection, None)


async def connect(message):
    COUNTS[message.reply_channel.name] = 0
    await message.reply_channel.send({"text": f"welcome {message['user']} pid={os.getpid()}"})


async def chat(message):
    text = message["text"]
    if text.startswith("slow"):
        print("slow consumer started", flush=True)
        await asyncio.sleep(1.0)
        await message.reply_channel.send({"text": f"done {text}"})
        return
    if text == "boom":
        raise RuntimeError("consumer exploded on purpose")
    if text == "bye":
        await message.reply_channel.send({"type": "linechat.close", "text": "see you"})
        return
    # A random pause so that events of one connection would overtake each other if
    # anything let them run concurrently.
    await asyncio.sleep(random.random() * 0.005)
    name = message.reply_channel.name
    seen = COUNTS.get(name)  # None here if this worker never saw the connect
    COUNTS[name] = (seen or 0) + 1
    await message.reply_channel.send({"text": f"{seen} {message['user']}: {text}"})


def shout(message):
    message.reply_channel.send({"text": message["text"].upper()})


def stuck(message):
    print("stuck consumer started", flush=True)
    time.sleep(60)  # a sync consumer that will not finish in any drain


routes = [
    route("linechat.connect", connect),
    route("linechat.message", shout, text=r"^!"),
    route("linechat.message", stuck, text=r"^stuck$"),
    route("linechat.message", chat),
]
"""


@dataclass
class Project:
    """A directory holding a user's project: ``chatapp.py`` and ``telephonist.toml``."""

    path: Path
    status_dir: Path

    def write(self, name: str, text: str) -> Path:
        target = self.path / name
        target.write_text(textwrap.dedent(text))
        return target


@pytest.fixture
def project(tmp_path: Path) -> Project:
    proj = Project(tmp_path / "project", tmp_path / "status")
    proj.path.mkdir()
    proj.write("chatapp.py", CHAT_APP)
    proj.write(
        "telephonist.toml",
        """
        routing = "chatapp.routes"

        [interfaces.linechat]
        port = 0
        """,
    )
    return proj


class Proc(Process):
    """A ``telephonist`` subprocess: stdout lines read as they come, stderr in its own log."""

    def wait_for(self, pattern: str, timeout: float = TIMEOUT) -> re.Match[str]:
        """The first stdout line (from now on) matching ``pattern``."""
        return self.wait_for_line(pattern, timeout=timeout)

    def ready(self) -> Proc:
        self.wait_for(r"^telephonist: ready$")
        return self

    def endpoint(self, interface: str = "linechat") -> int:
        for line in self.seen:
            found = re.match(rf"^interface {interface}: tcp://127\.0\.0\.1:(\d+)", line)
            if found:
                return int(found.group(1))
        raise AssertionError(f"no endpoint for {interface} in {self.seen}")

    def stderr(self) -> str:
        return self.errors()

    def wait(self, timeout: float = TIMEOUT) -> int:
        return super().wait(timeout)


Spawn = Callable[..., Proc]


@pytest.fixture
def spawn(project: Project, tmp_path: Path) -> Iterator[Spawn]:
    """``spawn("run", "-s", "k=v", env={...})`` starts ``telephonist`` in the project."""
    started: list[Proc] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Proc:
        full_env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "TELEPHONIST_STATUS__SOCKET_DIR": str(project.status_dir),
            **(env or {}),
        }
        n = len(started)
        proc = Proc(
            [*TELEPHONIST, *args],
            log=tmp_path / f"stdout-{n}.txt",
            stderr_log=tmp_path / f"stderr-{n}.txt",
            cwd=project.path,
            env=full_env,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.kill()


def run_cli(
    project: Project, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """A short-lived command (``--help``, ``interfaces``, ``status``), bounded."""
    full_env = {
        **os.environ,
        "TELEPHONIST_STATUS__SOCKET_DIR": str(project.status_dir),
        **(env or {}),
    }
    return subprocess.run(
        [*TELEPHONIST, *args],
        cwd=project.path,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


class ChatClient:
    """A raw linechat client: one TCP socket, line in, line out, every read bounded."""

    def __init__(self, port: int, timeout: float = TIMEOUT) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.file = self.sock.makefile("rwb")

    def send(self, line: str) -> None:
        self.file.write(line.encode() + b"\n")
        self.file.flush()

    def line(self) -> str:
        """The next line; ``""`` at end of stream."""
        data = self.file.readline()
        return data.decode().rstrip("\n")

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    def __enter__(self) -> ChatClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@pytest.fixture
def clients() -> Iterator[Callable[[int], ChatClient]]:
    opened: list[ChatClient] = []

    def connect(port: int) -> ChatClient:
        client = ChatClient(port)
        opened.append(client)
        return client

    yield connect
    for client in opened:
        client.close()

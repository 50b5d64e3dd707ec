"""udpchat, the connectionless worked example of docs/writing-an-interface.md, run as a
user runs it: the doc's project files and commands as written, then every limit, the
end of a conversation (idle), ABORT and SIGTERM, over real UDP sockets on loopback."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .conftest import TIMEOUT, Proc, Project, Spawn

WRITING = (Path(__file__).resolve().parents[2] / "docs" / "writing-an-interface.md").read_text()
SECTION = WRITING[WRITING.index("## 6. A connectionless protocol") :]


def _block(lang: str, first_line: str) -> str:
    for block in re.findall(rf"```{lang}\n(.*?)```", SECTION, re.S):
        if block.startswith(first_line + "\n"):
            return block
    raise AssertionError(f"no {lang} block starting {first_line!r}")


def _console(after: str) -> list[str]:
    rest = SECTION[SECTION.index(after) :]
    return re.findall(r"```console\n(.*?)```", rest, re.S)[0].splitlines()


def endpoint(proc: Proc) -> int:
    for line in proc.seen:
        found = re.match(r"^interface udpchat: udp://127\.0\.0\.1:(\d+)$", line)
        if found:
            return int(found.group(1))
    raise AssertionError(f"no udpchat endpoint in {proc.seen}")


class Peer:
    """One UDP peer: a socket of its own, every receive bounded."""

    def __init__(self, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(TIMEOUT)
        self.sock.bind(("127.0.0.1", 0))
        self.port = port

    def send(self, data: bytes | str) -> None:
        self.sock.sendto(data.encode() if isinstance(data, str) else data, ("127.0.0.1", self.port))

    def line(self) -> str:
        return self.sock.recv(65_536).decode()

    def ask(self, text: str) -> str:
        self.send(text)
        return self.line()


@pytest.fixture
def doc_project(project: Project) -> Project:
    project.write("telephonist.toml", _block("toml", "# file: telephonist.toml"))
    project.write("udpecho.py", _block("python", "# file: udpecho.py"))
    return project


@pytest.fixture
def peers() -> Iterator[Callable[[int], Peer]]:
    made: list[Peer] = []

    def make(port: int) -> Peer:
        made.append(Peer(port))
        return made[-1]

    yield make
    for peer in made:
        peer.sock.close()


def _run(spawn: Spawn, *args: str) -> Proc:
    # Port 7001 may be taken here: the environment picks a free one, the files stay as written.
    return spawn("run", *args, env={"TELEPHONIST_INTERFACES__UDPCHAT__PORT": "0"}).ready()


def test_the_worked_example_runs_as_written(doc_project: Project, spawn: Spawn) -> None:
    command, *shown = _console("```console\n$ telephonist run")
    assert command == "$ telephonist run"
    proc = _run(spawn)
    assert [line for line in proc.seen if line.startswith("interface udpchat:")] == [
        shown[0].replace("7001", str(endpoint(proc)))
    ]
    client, *expected = _console("and from another terminal")
    code = client.removeprefix("$ python -c ").strip()[1:-1].replace("7001", str(endpoint(proc)))
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT, check=True
    )
    assert done.stdout.splitlines() == expected == ["ann said hello"]
    proc.signal(signal.SIGTERM)
    assert proc.wait() == 0


def test_a_quiet_peer_ends_its_conversation_with_a_last_event(
    doc_project: Project, spawn: Spawn, peers: Callable[[int], Peer]
) -> None:
    proc = _run(spawn, "-s", "interfaces.udpchat.idle_timeout=0.3")
    peer = peers(endpoint(proc))
    peer.send("/nick ann")
    assert peer.ask("hi") == "ann said hi"
    proc.wait_for(r"^ann left \(idle\)$")
    # The next datagram starts a new conversation, answered as before.
    assert peer.ask("again") == f"127.0.0.1:{peer.sock.getsockname()[1]} said again"


def test_every_limit_is_answered_and_the_others_are_still_served(
    doc_project: Project, spawn: Spawn, peers: Callable[[int], Peer]
) -> None:
    proc = _run(spawn, "-s", "interfaces.udpchat.max_datagram_bytes=64", "-s",
                "interfaces.udpchat.max_peers=1")  # fmt: skip
    first, second = peers(endpoint(proc)), peers(endpoint(proc))
    assert first.ask("x" * 65) == "error: too large (max 64 bytes)"
    first.send("/nick ann")
    assert first.ask("fits") == "ann said fits"
    assert second.ask("me too") == "error: too many peers, try again later"
    assert first.ask("still here") == "ann said still here"


def test_abort_ends_the_conversation(
    doc_project: Project, spawn: Spawn, peers: Callable[[int], Peer]
) -> None:
    # No worker: nobody takes the conversation's first event, so the server aborts it.
    proc = spawn(
        "serve", "-s", "affinity.bind_timeout=0.5",
        env={"TELEPHONIST_INTERFACES__UDPCHAT__PORT": "0"},
    ).ready()  # fmt: skip
    peer = peers(endpoint(proc))
    peer.send("anyone?")
    assert re.fullmatch(r"error: conversation aborted \(.+\)", peer.line())
    proc.signal(signal.SIGTERM)
    assert proc.wait() == 0


def test_sigterm_says_goodbye_to_each_peer(
    doc_project: Project, spawn: Spawn, peers: Callable[[int], Peer]
) -> None:
    proc = _run(spawn)
    peer = peers(endpoint(proc))
    peer.send("/nick ann")
    assert peer.ask("bye soon") == "ann said bye soon"
    proc.signal(signal.SIGTERM)
    assert peer.line() == "* server shutting down, goodbye"
    assert proc.wait() == 0
    proc.wait_for(r"^ann left \(server shutdown\)$")

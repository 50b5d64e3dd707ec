"""The status sockets (docs/security.md, "Status"): their directory must be the user's
alone, and ``telephonist status`` reads a bounded amount and prints no control
characters, whatever a process (or an impostor) answers. Real ``telephonist``
processes; the impostors are Unix-socket servers run by the test."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import socketserver
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from telephonist.runtime.status import MAX_SOCKETS
from tests.runtime.conftest import Project, Spawn, run_cli


def _status(project: Project, directory: Path, *args: str) -> tuple[int, str, str]:
    done = run_cli(project, "status", *args, env={"TELEPHONIST_STATUS__SOCKET_DIR": str(directory)})
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize("kind", ["symlink", "open mode", "someone else's"])
def test_a_socket_dir_that_is_not_ours_alone_is_refused(
    project: Project, spawn: Spawn, tmp_path: Path, kind: str
) -> None:
    directory = tmp_path / "shared"
    if kind == "symlink":
        target = tmp_path / "elsewhere"
        target.mkdir(mode=0o700)
        directory.symlink_to(target)
    else:
        directory.mkdir(mode=0o755 if kind == "open mode" else 0o700)
        directory.chmod(0o755 if kind == "open mode" else 0o700)
        if kind == "someone else's":
            if os.geteuid() != 0:
                pytest.skip("needs root to give a directory to another user")
            os.chown(directory, 65534, 65534)  # nobody
    proc = spawn("run", env={"TELEPHONIST_STATUS__SOCKET_DIR": str(directory)}).ready()
    # The process serves on; its status socket is not made in the untrusted directory.
    assert "status socket" in proc.stderr()
    assert list(directory.glob("*.sock")) == []
    code, out, err = _status(project, directory)
    assert "not reading status sockets" in err
    assert code == 1
    assert "no running process answered" in out


@pytest.fixture
def impostor() -> Iterator[Callable[[Path, bytes], None]]:
    """``impostor(path, answer)``: a Unix socket at ``path`` answering ``answer`` to every
    connection, as a hostile local process could."""
    servers: list[socketserver.UnixStreamServer] = []

    def start(path: Path, answer: bytes) -> None:
        class Answer(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                self.request.sendall(answer)

        server = socketserver.ThreadingUnixStreamServer(str(path), Answer)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _private(tmp_path: Path) -> Path:
    directory = tmp_path / "status-private"
    directory.mkdir(mode=0o700)
    return directory


def test_status_prints_no_control_characters(
    project: Project, tmp_path: Path, impostor: Callable[[Path, bytes], None]
) -> None:
    directory = _private(tmp_path)
    evil = "\x1b]0;owned\x07\x1b[2J"
    document = {"parts": [{
        "kind": "host", "id": f"srv.x{evil}!", "pid": 1, "hostname": "h\nfake line", "uptime": 1,
        "interfaces": {f"irc{evil}": {"connections": 1, "endpoints": ["tcp://x\u202e"],
                                      "counters": {f"c{evil}": 1}}},
        "counters": {}, "affinity": {},
    }]}  # fmt: skip
    impostor(directory / "1.sock", json.dumps(document).encode() + b"\n")
    code, out, _ = _status(project, directory)
    assert code == 0
    assert "\x1b" not in out
    assert "\x07" not in out
    assert "\u202e" not in out
    assert "\\x1b]0;owned\\x07" in out  # shown, harmlessly
    assert "h\\x0afake line" in out  # a line break in a value makes no line of its own
    assert not any(line.startswith("fake line") for line in out.splitlines())


def test_status_reads_a_bounded_answer_from_a_bounded_number_of_sockets(
    project: Project, tmp_path: Path, impostor: Callable[[Path, bytes], None]
) -> None:
    directory = _private(tmp_path)
    impostor(directory / "0.sock", b"{" + b" " * (8 * 1024 * 1024))  # never a whole line
    for n in range(1, MAX_SOCKETS + 20):  # sockets of processes gone: nobody listens
        dead = socket.socket(socket.AF_UNIX)
        dead.bind(str(directory / f"{n:04d}.sock"))
        dead.close()
    code, out, err = _status(project, directory, "-s", "status.timeout=5")
    assert code == 1
    assert "no running process answered" in out
    assert "no answer of at most" in err
    assert f"more than {MAX_SOCKETS} status sockets" in err
    # The ones read were found dead and removed; the rest wait for the next run.
    assert len(list(directory.glob("*.sock"))) == (MAX_SOCKETS + 20) - MAX_SOCKETS + 1


def test_a_status_socket_reads_nothing(project: Project, spawn: Spawn, tmp_path: Path) -> None:
    directory = tmp_path / "status-own"
    proc = spawn("run", env={"TELEPHONIST_STATUS__SOCKET_DIR": str(directory)}).ready()
    path = directory / f"{proc.pid}.sock"
    assert (os.stat(directory).st_mode & 0o777, os.stat(path).st_mode & 0o777) == (0o700, 0o600)
    for _ in range(2):
        with socket.socket(socket.AF_UNIX) as client:
            client.settimeout(10)
            client.connect(str(path))
            answer = b""
            while chunk := client.recv(65536):  # the document, then the end of the stream
                answer += chunk
            assert json.loads(answer)["parts"][0]["pid"] == proc.pid
            with contextlib.suppress(OSError):  # a command: nobody is there to read it
                client.sendall(b'SHUTDOWN\r\n{"command": "stop"}\n')
    assert proc.poll() is None  # still serving

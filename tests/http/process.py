"""``telephonist run`` as a subprocess: the way a user starts the server.

The project directory holds ``telephonist.toml``; the routing is ``tests.http.webapp``
(importable because the repository root is on ``PYTHONPATH``). Readiness is the
``interface http: http://127.0.0.1:PORT`` line on stdout, read by a thread with a
bounded wait; the process is stopped with SIGTERM by the PID we started (SIGKILL if it
does not stop in time).
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class RunningServer:
    def __init__(
        self,
        directory: Path,
        toml: str,
        *args: str,
        env: dict[str, str] | None = None,
        command: str = "run",
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "telephonist.toml").write_text(toml)
        # The project directory first (a user's modules), then the repository.
        env = {
            **os.environ,
            **(env or {}),
            "PYTHONPATH": f"{directory}{os.pathsep}{python_path()}",
        }
        self.command = command
        self.stderr_path = directory / f"{command}-stderr.txt"
        self._stderr = self.stderr_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "telephonist.cli", command, *args],
            cwd=directory,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.port = 0

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def ready(self, timeout: float = 30.0) -> RunningServer:
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"not ready in {timeout}s: {self.stderr()}") from None
            found = re.search(r"interface http: http://127\.0\.0\.1:(\d+)", line)
            if found:
                self.port = int(found.group(1))
            if line == "telephonist: ready":
                assert self.port or self.command == "worker", "ready without an http endpoint"
                return self

    def wait_for_line(self, text: str, timeout: float = 30.0) -> None:
        """Block (bounded) until a stdout line contains ``text``."""
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no {text!r} in {timeout}s: {self.stderr()}") from None
            if text in line:
                return

    def stderr(self) -> str:
        self._stderr.flush()
        return self.stderr_path.read_text()

    def stop(self, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        self._stderr.close()
        return self.proc.returncode


def python_path() -> str:
    """``PYTHONPATH`` with the repository root first, so ``tests.http...`` imports."""
    return f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"


def toml_for(routing: str = "tests.http.webapp.routes", **http: object) -> str:
    """A ``telephonist.toml`` with ``routing`` and an ``[interfaces.http]`` section."""
    lines = [f'routing = "{routing}"', "", "[interfaces.http]"]
    http.setdefault("endpoints", ["tcp:port=0:interface=127.0.0.1"])
    for key, value in http.items():
        lines.append(f"{key} = {_toml(value)}")
    return "\n".join(lines) + "\n"


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)

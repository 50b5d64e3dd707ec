"""``telephonist run`` as a subprocess: the way a user starts the server.

The project directory holds ``telephonist.toml``; the routing is ``tests.http.webapp``
(importable because the repository root is on ``PYTHONPATH``). Readiness is the
``interface http: http://127.0.0.1:PORT`` line on stdout, waited for with a bound; the
process is stopped with SIGTERM by the PID we started (SIGKILL if it does not stop in
time): ``telephonist.testing.processes``.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

from telephonist.testing.processes import Process

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
            "PYTHONUNBUFFERED": "1",
        }
        self.command = command
        self.process = Process(
            [sys.executable, "-m", "telephonist.cli", command, *args],
            log=directory / f"{command}-stdout.txt",
            stderr_log=directory / f"{command}-stderr.txt",
            cwd=directory,
            env=env,
        )
        self.proc = self.process.popen
        self.port = 0

    def ready(self, timeout: float = 30.0) -> RunningServer:
        deadline = time.monotonic() + timeout
        while True:
            found = self.process.wait_for_line(
                r"interface http: http://127\.0\.0\.1:(\d+)|^telephonist: ready$",
                timeout=max(0.0, deadline - time.monotonic()),
            )
            if found.group(1):
                self.port = int(found.group(1))
            else:
                assert self.port or self.command == "worker", "ready without an http endpoint"
                return self

    def wait_for_line(self, text: str, timeout: float = 30.0) -> None:
        """Block (bounded) until a stdout line contains ``text``."""
        self.process.wait_for_line(re.escape(text), timeout=timeout)

    def stderr(self) -> str:
        return self.process.errors()

    def stop(self, timeout: float = 20.0) -> int:
        return self.process.stop(timeout)


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

"""Processes a deployment test starts: stdout read line by line by a thread (readiness
is a line the process prints, waited for with a deadline), stderr to a file, each in a
session of its own, stopped by the PID we started."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["Proc", "Procs"]

TIMEOUT = 30.0


class Proc:
    def __init__(
        self, name: str, argv: list[str], *, cwd: Path, env: dict[str, str], logs: Path
    ) -> None:
        self.name = name
        self.argv = argv
        logs.mkdir(parents=True, exist_ok=True)
        self.stderr_path = logs / f"{name}.stderr"
        with self.stderr_path.open("w") as stderr:
            self.popen = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                start_new_session=True,  # a Ctrl-C of the test run reaches us only
            )
        self.pid = self.popen.pid
        self.seen: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def wait_for(self, pattern: str, timeout: float = TIMEOUT) -> re.Match[str]:
        """The first stdout line from now on matching ``pattern`` (bounded wait)."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                raise AssertionError(f"{self.name} exited before {pattern!r}:\n{self.report()}")
            self.seen.append(line)
            if found := regex.search(line):
                return found
        raise AssertionError(f"{self.name}: no {pattern!r} in {timeout}s:\n{self.report()}")

    def rest(self) -> list[str]:
        """Every stdout line after the last one ``wait_for`` read (after the process
        exited, all of them)."""
        while True:
            try:
                line = self._lines.get_nowait()
            except queue.Empty:
                return self.seen
            if line is None:
                return self.seen
            self.seen.append(line)

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def report(self) -> str:
        tail = "\n".join(self.stderr().splitlines()[-30:])
        return f"$ {' '.join(self.argv)}\nstdout:\n" + "\n".join(self.seen) + f"\nstderr:\n{tail}"

    def stop(self, sig: int = signal.SIGTERM, timeout: float = TIMEOUT) -> tuple[int, float]:
        """Send ``sig`` and wait up to ``timeout``: ``(exit status, seconds taken)``. A
        process still running then is killed and the stop fails the test."""
        started = time.monotonic()
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(
                    f"{self.name} still running {timeout}s after {signal.Signals(sig).name}:\n"
                    + self.report()
                ) from None
        return self.popen.returncode, time.monotonic() - started

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(TIMEOUT)


class Procs:
    """Every process of one test; whatever is still running at the end is killed."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: list[Proc] = []

    def start(self, name: str, argv: list[str], *, cwd: Path, env: dict[str, str]) -> Proc:
        proc = Proc(name, argv, cwd=cwd, env=env, logs=self.logs)
        self.started.append(proc)
        return proc

    def kill_all(self) -> None:
        for proc in reversed(self.started):
            proc.kill()

    @classmethod
    @contextmanager
    def running(cls, logs: Path) -> Iterator[Procs]:
        procs = cls(logs)
        try:
            yield procs
        finally:
            procs.kill_all()

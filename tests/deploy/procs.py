"""The processes of one deployment test (``telephonist.testing.processes``): each with
its stdout and stderr in log files named after it, stopped by the PID we started at the
end of the test, whatever happened; and ``stop_within``, a stop that must be graceful."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from signal import SIGTERM

from telephonist.testing.processes import Process

__all__ = ["Procs", "report", "stop_within"]


class Procs:
    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: list[Process] = []

    def start(self, name: str, argv: list[str], *, cwd: Path, env: dict[str, str]) -> Process:
        """``argv`` with stdout in ``<name>.out`` (where ``wait_for_line`` looks) and
        stderr in ``<name>.err``."""
        proc = Process(
            argv,
            log=self.logs / f"{name}.out",
            stderr_log=self.logs / f"{name}.err",
            cwd=cwd,
            env=env,
            # A group of its own: stopping or killing it reaches what it started (nginx's
            # workers), and a Ctrl-C of the test run does not.
            new_session=True,
        )
        self.started.append(proc)
        return proc

    @classmethod
    @contextmanager
    def running(cls, logs: Path) -> Iterator[Procs]:
        procs = cls(logs)
        try:
            yield procs
        finally:
            for proc in reversed(procs.started):
                proc.kill()


def report(proc: Process) -> str:
    return f"$ {' '.join(proc.args)}{proc.tail(40)}"


def stop_within(proc: Process, timeout: float, sig: int = SIGTERM) -> float:
    """Send ``sig``; it must exit with status 0 within ``timeout`` seconds (not be
    killed after it). Returns the seconds it took."""
    started = time.monotonic()
    code = proc.stop(timeout=timeout, sig=sig)
    took = time.monotonic() - started
    assert code == 0, f"exit status {code} after {took:.1f}s:\n{report(proc)}"
    return took

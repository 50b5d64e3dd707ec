"""Child processes for tests and benchmarks: a server started for real, waited for until
it serves, stopped for sure. Telephonist's own tests and benchmarks use it for every
server they start (Redis, IRC and SMTP peers, ``telephonist run``, Daphne), and it serves
anyone testing their own deployment the same way.

Theory of operation
-------------------
``Process(args, log=...)`` starts a command with its output in a log file (stderr too,
unless ``stderr_log`` names another): a file rather than a pipe, so a child never blocks
on a full pipe nobody reads, and what it printed is there to read after a failure.

Readiness is a bounded wait on something observable, never a fixed sleep: a TCP connect
succeeding (``wait_for_port``), a Unix-socket connect (``wait_for_unix_socket``), a line
in the log (``wait_for_line``), or any condition (``wait_until``). Each checks every
10 ms until its deadline and gives up early, with the tail of the log, if the process
exits first.

``stop()`` signals the PID we started, never a name: SIGCONT first (a process a test froze
with SIGSTOP acts on nothing else), then SIGTERM (or the signal given), a bounded wait,
SIGKILL, a bounded wait. A process started with ``new_session=True`` leads a process
group of its own, whose id is its PID: signals then go to that group, so a child it forked
(Django's reloader) stops with it, and a Ctrl-C at the terminal reaches only the parent.
Whatever is still running when the interpreter exits is stopped then.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from signal import SIGCONT, SIGKILL, SIGTERM
from typing import TypeVar

__all__ = [
    "Process",
    "ProcessExited",
    "free_port",
    "wait_for_port",
    "wait_for_unix_socket",
    "wait_until",
]

T = TypeVar("T")
POLL = 0.01  # seconds between two looks at a condition
STOP_TIMEOUT = 10.0  # seconds a process gets to stop after a signal, before SIGKILL
_LIVE: set[Process] = set()


class ProcessExited(RuntimeError):
    """A process exited while something waited for it to be ready."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (the OS's pick of an ephemeral one)."""
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def wait_until(
    condition: Callable[[], T | None],
    *,
    timeout: float,
    what: str,
    watch: Sequence[Process] = (),
    interval: float = POLL,
) -> T:
    """The first true value of ``condition()``, checked every ``interval`` seconds for
    ``timeout`` seconds; ``ProcessExited`` as soon as a process in ``watch`` exits."""
    deadline = time.monotonic() + timeout
    while True:
        for proc in watch:
            if proc.poll() is not None:
                raise ProcessExited(
                    f"{proc.name} exited with {proc.returncode} before {what}{proc.tail()}"
                )
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            tails = "".join(proc.tail() for proc in watch)
            raise TimeoutError(f"no {what} within {timeout:g}s{tails}")
        time.sleep(interval)  # the poll interval of a bounded wait, not synchronisation


def _connects(family: socket.AddressFamily, address: str | tuple[str, int]) -> bool:
    with socket.socket(family) as s:
        s.settimeout(1.0)
        try:
            s.connect(address)
        except OSError:
            return False
        return True


def wait_for_port(
    port: int, proc: Process | None = None, *, host: str = "127.0.0.1", timeout: float = 15.0
) -> None:
    """Until a TCP connect to ``host:port`` succeeds."""
    wait_until(
        lambda: _connects(socket.AF_INET, (host, port)),
        timeout=timeout,
        what=f"listener on {host}:{port}",
        watch=[proc] if proc else [],
    )


def wait_for_unix_socket(path: Path, proc: Process | None = None, *, timeout: float = 15.0) -> None:
    """Until a connect to the Unix socket ``path`` succeeds."""
    wait_until(
        lambda: _connects(socket.AF_UNIX, str(path)),
        timeout=timeout,
        what=f"listener on {path}",
        watch=[proc] if proc else [],
    )


class Process:
    """A started command (see the module doc). ``seen`` holds the log lines that
    ``wait_for_line`` has passed over, oldest first."""

    def __init__(
        self,
        args: Sequence[str],
        *,
        log: Path,
        stderr_log: Path | None = None,
        cwd: str | Path | None = None,
        env: Mapping[str, str] | None = None,
        new_session: bool = False,
        preexec_fn: Callable[[], object] | None = None,
    ) -> None:
        self.args = list(args)
        self.log = log
        self.stderr_log = stderr_log
        self.group = new_session
        self.seen: list[str] = []
        self._pending: list[str] = []  # lines read but not yet passed over
        log.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.ExitStack() as files:
            out = files.enter_context(log.open("ab"))
            # Bytes of the log already split into lines: a restart appends to the log of
            # the last run, whose lines are not this run's.
            self._read = log.stat().st_size
            err = files.enter_context(stderr_log.open("ab")) if stderr_log else subprocess.STDOUT
            self.popen = subprocess.Popen(
                self.args,
                cwd=cwd,
                env=None if env is None else dict(env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=new_session,
                preexec_fn=preexec_fn,
            )
        _LIVE.add(self)

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def name(self) -> str:
        return f"{Path(self.args[0]).name} (pid {self.pid})"

    @property
    def returncode(self) -> int | None:
        return self.popen.returncode

    def poll(self) -> int | None:
        return self.popen.poll()

    def output(self) -> str:
        """The log so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def errors(self) -> str:
        """The stderr log so far (the log itself without ``stderr_log``)."""
        path = self.stderr_log or self.log
        return path.read_text(errors="replace") if path.exists() else ""

    def tail(self, lines: int = 20) -> str:
        """The last lines of the log(s), as a paragraph for an error message."""
        paths = [self.log] if self.stderr_log is None else [self.log, self.stderr_log]
        parts = []
        for path in paths:
            text = path.read_text(errors="replace").splitlines() if path.exists() else []
            if text:
                parts.append(f"\n--- {path.name}, last lines:\n" + "\n".join(text[-lines:]))
        return "".join(parts)

    def wait_for_port(self, port: int, *, host: str = "127.0.0.1", timeout: float = 15.0) -> None:
        wait_for_port(port, self, host=host, timeout=timeout)

    def wait_for_unix_socket(self, path: Path, *, timeout: float = 15.0) -> None:
        wait_for_unix_socket(path, self, timeout=timeout)

    def wait_for_line(self, pattern: str, *, timeout: float = 30.0) -> re.Match[str]:
        """The first log line from here on that matches ``pattern`` (``re.search``).
        Lines passed over are kept in ``seen``; a later call starts after this match."""
        regex = re.compile(pattern)

        def scan() -> re.Match[str] | None:
            exited = self.poll() is not None
            self._pending += self._new_lines(final=exited)
            while self._pending:
                line = self._pending.pop(0)
                self.seen.append(line)
                found = regex.search(line)
                if found:
                    return found
            if exited:  # read to the end after the exit: the line will never come
                raise ProcessExited(
                    f"{self.name} exited with {self.returncode} before a line "
                    f"matching {pattern!r}{self.tail()}"
                )
            return None

        return wait_until(scan, timeout=timeout, what=f"line matching {pattern!r} from {self.name}")

    def _new_lines(self, *, final: bool) -> list[str]:
        """Complete lines written since the last call (and a last unterminated one once
        the process has exited)."""
        try:
            with self.log.open("rb") as f:
                f.seek(self._read)
                data = f.read()
        except FileNotFoundError:
            return []
        end = len(data) if final else data.rfind(b"\n") + 1
        self._read += end
        return data[:end].decode(errors="replace").splitlines()

    def wait(self, timeout: float = STOP_TIMEOUT) -> int:
        """The exit code, waiting at most ``timeout`` (``subprocess.TimeoutExpired``)."""
        code = self.popen.wait(timeout)
        _LIVE.discard(self)
        return code

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the PID we started (with ``new_session``, to its group: the
        PID we started as a group id, which also reaches what it forked)."""
        if self.group:
            with contextlib.suppress(ProcessLookupError):  # the whole group is gone
                os.killpg(self.pid, sig)
        else:
            self.popen.send_signal(sig)  # nothing once it has been reaped

    def stop(self, timeout: float = STOP_TIMEOUT, sig: int = SIGTERM) -> int:
        """Stop it (see the module doc) and return its exit code; at once if it has
        already exited."""
        if self.popen.poll() is None:
            self.signal(SIGCONT)
            self.signal(sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.wait(timeout)
        return self.kill(timeout)  # a no-op by now, unless it did not stop in time

    def kill(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGKILL (to a group's leftovers too), then its exit code."""
        if self.group or self.popen.poll() is None:
            self.signal(SIGKILL)
        return self.wait(timeout)

    def __enter__(self) -> Process:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@atexit.register
def _stop_all() -> None:
    for proc in list(_LIVE):
        with contextlib.suppress(Exception):  # whatever we can, at exit
            proc.stop(timeout=5.0)

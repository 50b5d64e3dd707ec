"""telephonist.testing.processes: started with a log, ready on a connect or a line, stopped
by the PID we started (its group with ``new_session``), within bounds."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from telephonist.testing.processes import (
    Process,
    ProcessExited,
    free_port,
    wait_for_port,
    wait_until,
)

# A child that prints its arguments, listens where told, and waits for a signal.
SERVER = """
import signal, socket, sys
for line in sys.argv[2:]:
    print(line, flush=True)
family = socket.AF_UNIX if sys.argv[1].startswith("/") else socket.AF_INET
s = socket.socket(family)
s.bind(sys.argv[1] if family == socket.AF_UNIX else ("127.0.0.1", int(sys.argv[1])))
s.listen()
print("listening", flush=True)
signal.pause()
"""
STUBBORN = "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); signal.pause()"  # noqa: E501
FORKS = """
import signal, subprocess, sys
child = subprocess.Popen([sys.executable, "-c", "import signal; signal.pause()"])
print(f"child {child.pid}", flush=True)
signal.pause()
"""
WITHIN = 15.0
DOC_FILES = ["chat.py", "telephonist.toml", "test_chat.py"]
RUNTIME_MD = (Path(__file__).resolve().parents[2] / "docs" / "runtime.md").read_text()


def python(code: str, *args: str) -> list[str]:
    return [sys.executable, "-c", code, *args]


def gone(pid: int) -> bool:
    """Exited: no such process, or a zombie nobody has reaped yet."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def test_ready_on_a_port_logged_and_stopped(tmp_path: Path) -> None:
    port = free_port()
    with Process(python(SERVER, str(port), "hello"), log=tmp_path / "p.log") as proc:
        proc.wait_for_port(port, timeout=WITHIN)
        with socket.create_connection(("127.0.0.1", port), timeout=WITHIN):
            pass
        assert proc.stop() == -signal.SIGTERM
    assert proc.output().splitlines() == ["hello", "listening"]


def test_ready_on_a_unix_socket(tmp_path: Path) -> None:
    path = tmp_path / "s.sock"
    with Process(python(SERVER, str(path)), log=tmp_path / "p.log") as proc:
        proc.wait_for_unix_socket(path, timeout=WITHIN)
        assert proc.poll() is None


def test_an_exit_ends_the_wait_at_once_with_the_log(tmp_path: Path) -> None:
    proc = Process(python("print('bad config'); raise SystemExit(3)"), log=tmp_path / "p.log")
    started = time.monotonic()
    with pytest.raises(ProcessExited, match=r"exited with 3 (.|\n)*bad config"):
        wait_for_port(free_port(), proc, timeout=WITHIN)
    assert time.monotonic() - started < WITHIN / 2


def test_a_wait_is_bounded(tmp_path: Path) -> None:
    with Process(python(SERVER, str(tmp_path / "s.sock")), log=tmp_path / "p.log") as proc:
        started = time.monotonic()
        with pytest.raises(TimeoutError, match=r"no listener on 127\.0\.0\.1:"):
            proc.wait_for_port(free_port(), timeout=0.3)
        assert 0.3 <= time.monotonic() - started < 0.3 + WITHIN / 2


def test_lines_are_taken_in_order_and_missing_ones_fail_on_exit(tmp_path: Path) -> None:
    code = "print('a 1'); print('b 2'); print('a 3'); print('tail', end='')"
    proc = Process(python(code), log=tmp_path / "p.log")
    assert proc.wait_for_line(r"^a (\d)", timeout=WITHIN).group(1) == "1"
    assert proc.wait_for_line(r"^a (\d)", timeout=WITHIN).group(1) == "3"
    assert proc.seen == ["a 1", "b 2", "a 3"]
    assert proc.wait_for_line("^tail$", timeout=WITHIN)  # unterminated, read after the exit
    with pytest.raises(ProcessExited, match="before a line matching 'never'"):
        proc.wait_for_line("never", timeout=WITHIN)
    assert proc.wait() == 0


def test_a_restart_appends_to_the_log_and_waits_on_its_own_lines(tmp_path: Path) -> None:
    log = tmp_path / "p.log"
    assert Process(python("print('ready 1')"), log=log).wait(WITHIN) == 0
    second = Process(python("print('ready 2')"), log=log)
    assert second.wait_for_line(r"^ready (\d)$", timeout=WITHIN).group(1) == "2"
    assert second.output() == "ready 1\nready 2\n"


def test_stderr_can_have_its_own_log(tmp_path: Path) -> None:
    code = "import sys; print('out'); print('err', file=sys.stderr)"
    proc = Process(python(code), log=tmp_path / "out.log", stderr_log=tmp_path / "err.log")
    assert proc.wait(WITHIN) == 0
    assert (proc.output(), proc.errors()) == ("out\n", "err\n")


def test_a_process_ignoring_sigterm_is_killed_after_the_bound(tmp_path: Path) -> None:
    proc = Process(python(STUBBORN), log=tmp_path / "p.log")
    proc.wait_for_line("^up$", timeout=WITHIN)
    started = time.monotonic()
    assert proc.stop(timeout=0.5) == -signal.SIGKILL
    assert 0.5 <= time.monotonic() - started < 0.5 + WITHIN / 2


def test_a_frozen_process_still_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    proc = Process(python(SERVER, str(port)), log=tmp_path / "p.log")
    proc.wait_for_port(port, timeout=WITHIN)
    proc.signal(signal.SIGSTOP)
    assert proc.stop(timeout=WITHIN) == -signal.SIGTERM


def test_a_new_session_is_stopped_with_what_it_forked(tmp_path: Path) -> None:
    proc = Process(python(FORKS), log=tmp_path / "p.log", new_session=True)
    child = int(proc.wait_for_line(r"^child (\d+)$", timeout=WITHIN).group(1))
    assert proc.stop(timeout=WITHIN) == -signal.SIGTERM
    wait_until(lambda: gone(child), timeout=WITHIN, what=f"exit of pid {child}")


def test_stopping_an_exited_process_returns_its_code(tmp_path: Path) -> None:
    proc = Process(python("raise SystemExit(4)"), log=tmp_path / "p.log")
    assert proc.wait(WITHIN) == 4
    assert proc.stop() == 4
    assert proc.kill() == 4


def test_the_docs_example_runs_as_written(tmp_path: Path) -> None:
    """docs/runtime.md, "Testing a deployment": its test passes, run as the doc says."""
    for block in re.findall(r"```(?:python|toml)\n(# file: (\S+)\n.*?)```", RUNTIME_MD, re.S):
        if block[1] in ("chat.py", "telephonist.toml", "test_chat.py"):
            (tmp_path / block[1]).write_text(block[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "chat.py",
        "telephonist.toml",
        "test_chat.py",
    ]
    command = RUNTIME_MD.split("## Testing a deployment", 1)[1].split("```console\n$ ")[1]
    assert command.splitlines()[0] == "python -m pytest test_chat.py"
    # Not this session's settings: the doc's project is a project of its own.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TELEPHONIST_") and k != "DJANGO_SETTINGS_MODULE"
    }
    env["TELEPHONIST_STATUS__SOCKET_DIR"] = str(tmp_path / "status")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "test_chat.py", "-p", "no:cacheprovider"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert "1 passed" in done.stdout, done.stdout + done.stderr

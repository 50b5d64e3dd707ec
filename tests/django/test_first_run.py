"""A first ``make run``, as a user in a fresh clone sees it: ``make run`` itself, in a
subprocess, with the environment the Makefile made (never the tests' plugins), and its
start-up output checked line by line: each interface once, with a real endpoint or
``disabled: <why>``, the worker listening only on what can come, and the banner saying
what this configuration bridges."""

from __future__ import annotations

import os
import re
import shutil
import signal
import sys
from pathlib import Path

import pytest

from telephonist.testing.processes import Process
from tests.servers import free_port, require_service

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(sys.prefix)
INSTALLED = ("email", "http", "irc", "slack")  # what the project ships, nothing more


def _environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The user's environment: none of the tests' own paths and settings."""
    ours = set(os.environ.get("TESTS_PLUGIN_PATH", "").split(os.pathsep)) - {""}
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEPHONIST_", "MULTICHAT_", "TESTS_PLUGIN")) and k != "MAKEFLAGS"
    }
    path = [p for p in env.pop("PYTHONPATH", "").split(os.pathsep) if p and p not in ours]
    if path:
        env["PYTHONPATH"] = os.pathsep.join(path)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env["MULTICHAT_DB"] = str(tmp_path / "db.sqlite3")
    # Not 2525: other tests (and a developer's own `make run`) may hold it.
    env["TELEPHONIST_INTERFACES__EMAIL__PORT"] = "0"
    env["TELEPHONIST_STATUS__SOCKET_DIR"] = str(tmp_path / "status")
    env.update(extra)
    return env


def make_run(tmp_path: Path, **extra: str) -> tuple[list[str], int]:
    """``make run``'s start-up output up to ``telephonist: ready``; the HTTP port."""
    make = shutil.which("make")
    if make is None:
        require_service("make")
    port = free_port()
    stamp = VENV / ".installed-stamp"
    args = [
        make or "make", "--no-print-directory", "-C", str(ROOT), "run",
        f"VENV={VENV}", f"RUN_ARGS=127.0.0.1:{port}",
        # Never rebuild the environment here: this is the one the tests run in.
        "-o", str(stamp),
    ]  # fmt: skip
    proc = Process(
        args, log=tmp_path / "make-run.log", env=_environment(tmp_path, **extra), new_session=True
    )
    try:
        proc.wait_for_line(r"^telephonist: ready$", timeout=90)
    finally:
        proc.signal(signal.SIGTERM)
        proc.wait()
    lines = proc.output().splitlines()
    return lines[: lines.index("telephonist: ready") + 1], port


def _interface_lines(lines: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in lines:
        match = re.search(r"\binterface (\w+)[: ]", line)
        if match:
            found.setdefault(match.group(1), []).append(line)
    return found


def test_a_first_make_run_reports_each_interface_once_and_no_test_plugin(
    tmp_path: Path,
) -> None:
    lines, port = make_run(tmp_path)
    text = "\n".join(lines)
    assert "linechat" not in text, text
    assert "udpchat" not in text, text
    reported = _interface_lines(lines)
    assert sorted(reported) == list(INSTALLED), text
    assert all(len(found) == 1 for found in reported.values()), reported
    assert reported["http"] == [f"interface http: http://127.0.0.1:{port}"]
    assert re.fullmatch(r"interface email: smtp://127\.0\.0\.1:\d+", reported["email"][0])
    assert reported["irc"][0].startswith("interface irc: disabled: no network configured")
    assert reported["slack"][0].startswith("interface slack: disabled: not configured")
    assert "(no endpoint)" not in text
    (worker,) = [line for line in lines if line.startswith("worker ")]
    channels = worker.split(": ", 1)[1].split(", ")
    assert sorted(channels) == [
        "email.receive",
        "http.disconnect",
        "http.request",
        "websocket.connect",
        "websocket.disconnect",
        "websocket.receive",
    ]
    # The banner: true to this configuration (no IRC network), the hint complete.
    assert "- IRC: off. To bridge an IRC channel to the room of its name:" in lines
    assert "    MULTICHAT_IRC=ircs://irc.libera.chat:6697/#multichat-lobby make run" in lines
    assert any("ircs:// is TLS, port 6697" in line and "port 6667" in line for line in lines)
    mail = "- mail: room <name> is the mailbox room-<name>@localhost"
    assert any(line.startswith(mail) for line in lines)


def test_the_banner_follows_the_configuration(tmp_path: Path) -> None:
    # A network nobody answers on: the interface is configured (and keeps retrying).
    irc_port = free_port()
    lines, _ = make_run(tmp_path, MULTICHAT_IRC=f"irc://127.0.0.1:{irc_port}/#kitchen")
    assert "IRC: off" not in "\n".join(lines)
    assert (
        f"- IRC: irc://127.0.0.1:{irc_port} (no TLS) as multichat: #kitchen, "
        "each bridged to the room of its name"
    ) in lines
    reported = _interface_lines(lines)
    assert reported["irc"] == [f"interface irc: irc://127.0.0.1:{irc_port} (irc as multichat)"]
    (worker,) = [line for line in lines if line.startswith("worker ")]
    assert "irc-client.receive" in worker


@pytest.mark.parametrize("bridge", ["**mail**", "**IRC**", "**Slack**"])
def test_the_readme_explains_each_bridge_in_a_line(bridge: str) -> None:
    readme = (ROOT / "README.md").read_text()
    (line,) = [line for line in readme.splitlines() if line.startswith(f"- {bridge}")]
    if bridge == "**IRC**":
        for word in ("6697", "TLS", "6667"):
            assert word in line

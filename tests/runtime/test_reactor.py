"""Twisted's reactor on our loop when something installed it first: Daphne's app
(``'daphne'`` in a Channels project's INSTALLED_APPS) installs it at import on a loop
of its own. Each case runs in a fresh interpreter: the reactor is one per process."""

from __future__ import annotations

import subprocess
import sys
import textwrap

DAPHNE_FIRST = """
import asyncio, logging
logging.basicConfig(level=logging.INFO, format="%(message)s")
import daphne.server  # installs the asyncio reactor on a new loop nobody runs
from telephonist.server.reactor import install_asyncio_reactor
loop = asyncio.new_event_loop()
reactor = install_asyncio_reactor(loop)
from twisted.internet import reactor as current
assert current is reactor and reactor._asyncioEventloop is loop
print("on our loop")
"""

STARTED_ELSEWHERE = """
import asyncio
from twisted.internet import asyncioreactor
other = asyncio.new_event_loop()
asyncioreactor.install(other)
from twisted.internet import reactor
reactor.startRunning(installSignalHandlers=False)  # in use there: must not move
from telephonist.server.reactor import ReactorError, install_asyncio_reactor
try:
    install_asyncio_reactor(asyncio.new_event_loop())
except ReactorError as exc:
    print("refused:", exc)
"""


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_a_reactor_daphne_installed_moves_to_our_loop() -> None:
    done = _run(DAPHNE_FIRST)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "on our loop\n"
    assert "installed on an idle loop (by the daphne app): reinstalled" in done.stderr


def test_a_reactor_running_on_another_loop_is_refused() -> None:
    done = _run(STARTED_ELSEWHERE)
    assert done.returncode == 0, done.stderr
    assert "refused: Twisted's asyncio reactor is already installed on another" in done.stdout

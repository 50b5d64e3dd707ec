"""docs/deploy.md as the tests read it, and a machine of a test deployment.

The page marks what the tests take from it:

- ``<!-- file: PATH -->`` before a fenced block: a file, by where it goes on a machine
  (``/etc/redis/telephonist.conf``) or, for a fragment of another file, by a bare name
  (``sentinel.toml``);
- ``<!-- commands: NAME -->`` before a console block of ``machine$ command`` lines: what
  an operator types, and on which machine.

A ``Machine`` stands for one host: a temporary directory is its filesystem (the page's
``/srv``, ``/etc``, ``/run`` and ``/var/lib`` live under it), ``address`` replaces the
page's ``10.0.0.N`` for it, and ``run_on`` wraps a command so it runs in the machine's
network namespace when it has one. ``localize`` turns the page's text into this
machine's: that is every change the tests make, so the page lists them all.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from tests.servers import find_redis_server

__all__ = ["PAGE", "VENV_BIN", "Machine", "commands", "files", "transcript"]

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "deploy.md"
# The directory of this interpreter (not resolved: a venv's python is a symlink), where
# the ``telephonist`` script of the test's install lives.
VENV_BIN = Path(sys.executable).parent

_FILE = re.compile(r"<!-- file: (\S+) -->\n```\w*\n(.*?)```", re.S)
_COMMANDS = re.compile(r"<!-- commands: (\S+) -->\n```console\n(.*?)```", re.S)
_SYSTEM_PATH = re.compile(r"(?<![\w./])/(srv|etc|run|var/lib)/")


@cache
def files() -> dict[str, str]:
    found = dict(_FILE.findall(PAGE.read_text()))
    assert found, "no file blocks in docs/deploy.md"
    return found


def transcript(name: str) -> list[tuple[str, str, list[str]]]:
    """``[(machine, command, output lines), ...]`` of the console block marked
    ``<!-- commands: name -->``: ``machine$ command`` lines, each followed by what it
    prints."""
    blocks = dict(_COMMANDS.findall(PAGE.read_text()))
    assert name in blocks, f"no commands block {name!r} in docs/deploy.md"
    found: list[tuple[str, str, list[str]]] = []
    for line in blocks[name].splitlines():
        machine, sep, command = line.partition("$ ")
        if sep and machine.isidentifier():
            found.append((machine, command, []))
        else:
            assert found, f"output before any command: {line!r}"
            found[-1][2].append(line)
    return found


def commands(name: str) -> list[tuple[str, str]]:
    """``[(machine, command), ...]`` of a block whose commands print nothing shown."""
    lines = transcript(name)
    assert not any(output for _, _, output in lines), f"{name}: output shown"
    return [(machine, command) for machine, command, _ in lines]


@dataclass
class Machine:
    """One host of a test deployment (see the module docstring)."""

    name: str
    root: Path
    address: str  # replaces the page's 10.0.0.N for this machine
    subnet: str  # replaces the page's "10.0.0." everywhere
    namespace: str | None = None
    # Further (page text, test text) replacements for this machine, applied first.
    replacements: list[tuple[str, str]] = field(default_factory=list)
    # Lines added to every Redis and Sentinel configuration run on this machine.
    redis_extra: tuple[str, ...] = ()

    def path(self, page_path: str) -> Path:
        return self.root / page_path.lstrip("/")

    def localize(self, text: str) -> str:
        for old, new in self.replacements:
            text = text.replace(old, new)
        text = re.sub(r"/srv/\w+/venv/bin/", f"{VENV_BIN}/", text)
        text = _SYSTEM_PATH.sub(lambda m: f"{self.root}/{m.group(1)}/", text)
        return text.replace("10.0.0.", self.subnet)

    def install(self, page_path: str, text: str | None = None) -> Path:
        """Write the page's file ``page_path`` (or ``text`` in its place), localized."""
        target = self.path(page_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(self.localize(files()[page_path] if text is None else text))
        return target

    def argv(self, command: str) -> list[str]:
        """A command of the page as this machine runs it."""
        args = shlex.split(self.localize(command))
        if args[0] == "redis-server":
            binary = find_redis_server()
            assert binary is not None, "no redis-server/valkey-server"
            args[0] = binary
        elif args[0] == "telephonist":
            args[0] = str(VENV_BIN / "telephonist")
        return self.run_on(args)

    def run_on(self, args: list[str]) -> list[str]:
        if self.namespace is None:
            return args
        return ["ip", "netns", "exec", self.namespace, *args]

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a shell on this machine: ours, without any Telephonist
        setting, with its own temporary directory (where status sockets live)."""
        tmp = self.root / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        base = {k: v for k, v in os.environ.items() if not k.startswith("TELEPHONIST_")}
        return {**base, "TMPDIR": str(tmp), **extra}

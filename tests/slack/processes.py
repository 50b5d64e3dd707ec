"""``telephonist`` subprocesses driven from an async test, whose event loop also runs the
Slack stand-in (so nothing here may block the loop: lines are read asynchronously)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["CliProcess", "cli", "run_cli"]

TELEPHONIST = [sys.executable, "-m", "telephonist.cli"]
TIMEOUT = 30.0


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    """This test's settings only: a developer's own TELEPHONIST_* must not leak in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEPHONIST_")}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


@dataclass
class CliProcess:
    proc: asyncio.subprocess.Process
    log: Path
    seen: list[str] = field(default_factory=list)

    async def wait_for(self, pattern: str, within: float = TIMEOUT) -> re.Match[str]:
        assert self.proc.stdout is not None
        regex = re.compile(pattern)
        try:
            async with asyncio.timeout(within):
                while True:
                    raw = await self.proc.stdout.readline()
                    if not raw:
                        raise AssertionError(f"exited before {pattern!r}: {self.output()}")
                    line = raw.decode(errors="replace").rstrip("\n")
                    self.seen.append(line)
                    found = regex.search(line)
                    if found:
                        return found
        except TimeoutError:
            raise AssertionError(f"no {pattern!r} within {within}s: {self.output()}") from None

    def output(self) -> str:
        err = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(self.seen) + "\n--- stderr ---\n" + err


@contextlib.asynccontextmanager
async def cli(
    *args: str, env: dict[str, str], cwd: Path, log: Path, command: tuple[str, ...] = ()
) -> AsyncIterator[CliProcess]:
    """``telephonist <args>`` (or ``command`` + args) until the block ends (then SIGTERM,
    bounded, then kill)."""
    with log.open("w") as err:
        proc = await asyncio.create_subprocess_exec(
            *(command or TELEPHONIST), *args, cwd=cwd, env=clean_env(env),
            stdout=asyncio.subprocess.PIPE, stderr=err,
        )  # fmt: skip
    running = CliProcess(proc, log)
    try:
        yield running
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), TIMEOUT)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def run_cli(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    """A short command (``status``, ``interfaces``), bounded."""
    proc = await asyncio.create_subprocess_exec(
        *TELEPHONIST, *args, cwd=cwd, env=clean_env(env),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")

"""``telephonist.testing.processes`` from an async test whose event loop also runs the
Slack stand-in: the blocking waits run in a thread, so the stand-in keeps serving."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from telephonist.testing.processes import Process

__all__ = ["DJANGO", "TELEPHONIST", "AsyncProcess", "run_cli", "run_command", "started"]

TELEPHONIST = (sys.executable, "-m", "telephonist.cli")
DJANGO = (sys.executable, "-m", "django")
TIMEOUT = 30.0


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    """This test's settings only: a developer's own TELEPHONIST_* must not leak in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEPHONIST_")}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


@dataclass
class AsyncProcess:
    process: Process

    async def wait_for(self, pattern: str, within: float = TIMEOUT) -> re.Match[str]:
        return await asyncio.to_thread(self.process.wait_for_line, pattern, timeout=within)

    def output(self) -> str:
        return self.process.output()


@contextlib.asynccontextmanager
async def started(
    command: Sequence[str], *, env: dict[str, str], cwd: Path, log: Path
) -> AsyncIterator[AsyncProcess]:
    """``command`` until the block ends, then stopped (SIGTERM, bounded, SIGKILL)."""
    process = Process(command, log=log, cwd=cwd, env=clean_env(env))
    try:
        yield AsyncProcess(process)
    finally:
        await asyncio.to_thread(process.stop)


async def run_command(
    command: Sequence[str], *, env: dict[str, str], cwd: Path, within: float = TIMEOUT
) -> tuple[int, str, str]:
    """A short command (``telephonist status``, ``manage.py migrate``), bounded."""
    done = await asyncio.to_thread(
        subprocess.run, list(command), cwd=cwd, env=clean_env(env),
        capture_output=True, text=True, timeout=within,
    )  # fmt: skip
    return done.returncode, done.stdout, done.stderr


async def run_cli(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, str, str]:
    """A short ``telephonist`` command (``status``), bounded."""
    return await run_command([*TELEPHONIST, *args], env=env, cwd=cwd)

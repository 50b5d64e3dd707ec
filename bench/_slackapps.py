"""The Slack apps ``bench/slack.py`` measures, each started the way a user starts it:

* ``telephonist-run``: ``telephonist run`` (the ``slack`` interface and a worker in one
  process, in-memory layer), routing ``bench.slackapp.echo.routes``;
* ``telephonist-split``: ``telephonist serve`` (the interface) and one ``telephonist
  worker`` over a private Valkey/Redis server (``_servers.py``);
* ``bolt``: Slack Bolt's ``AsyncApp`` with ``AsyncSocketModeHandler``
  (``bench/slackapp/bolt_echo.py``).

All point at the same stand-in (its tokens and ``api_url`` in the environment) with one
Socket Mode connection. The Telephonist interface's Web API pacing is opened up
(``post_interval = 0``, every tier far above what the run sends, 32 calls in flight):
Bolt has no pacing at all and the stand-in rate-limits nothing, so leaving Slack's
limits on would measure the limits. Ready when every process printed its ready line
and the stand-in sees the Socket Mode connection (the caller waits for that). Stopped
by the PIDs we started (``telephonist.testing.processes``).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from telephonist.testing.processes import Process

__all__ = ["APPS", "AppSpec", "RunningApp", "started"]

REPO = Path(__file__).resolve().parent.parent
ROUTING = "bench.slackapp.echo.routes"
_OPEN_TIER = "{ per_minute = 1000000, burst = 10000 }"


@dataclass(frozen=True)
class AppSpec:
    name: str
    description: str

    @property
    def uses_redis(self) -> bool:
        return self.name == "telephonist-split"


APPS = (
    AppSpec("telephonist-run", "Telephonist all-in-one (telephonist run), in-memory layer"),
    AppSpec("telephonist-split", "telephonist serve + 1 worker over Redis"),
    AppSpec("bolt", "Slack Bolt AsyncApp + AsyncSocketModeHandler"),
)


@dataclass
class RunningApp:
    spec: AppSpec
    processes: list[Process]

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]


def _toml(redis_url: str | None) -> str:
    lines = [f'routing = "{ROUTING}"', 'log_level = "WARNING"', ""]
    if redis_url is not None:
        lines += ["[layer]", 'BACKEND = "redis"', f'CONFIG = {{ hosts = ["{redis_url}"] }}', ""]
    lines += ["[interfaces.slack]", "post_interval = 0.0", "api_concurrency = 32", "",
              "[interfaces.slack.tiers]"]  # fmt: skip
    lines += [f'"{tier}" = {_OPEN_TIER}' for tier in ("1", "2", "3", "4", "special")]
    return "\n".join(lines) + "\n"


def _env(bot_token: str, app_token: str, api_url: str) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TELEPHONIST_")}
    return {**clean, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1",
            "TELEPHONIST_INTERFACES__SLACK__BOT_TOKEN": bot_token,
            "TELEPHONIST_INTERFACES__SLACK__APP_TOKEN": app_token,
            "TELEPHONIST_INTERFACES__SLACK__API_URL": api_url,
            "SLACK_BOT_TOKEN": bot_token, "SLACK_APP_TOKEN": app_token,
            "SLACK_API_URL": api_url}  # fmt: skip


@contextlib.contextmanager
def started(
    spec: AppSpec, *, bot_token: str, app_token: str, api_url: str, redis_url: str | None
) -> Iterator[RunningApp]:
    """``spec`` running until the block ends. Blocking: call it from a thread when the
    stand-in runs in this process's event loop (the apps ask it for ``auth.test``)."""
    env = _env(bot_token, app_token, api_url)
    python = sys.executable
    cli = [python, "-m", "telephonist.cli"]
    with tempfile.TemporaryDirectory(prefix="telephonist-bench-slack-") as tmp:
        cwd = Path(tmp)
        env["TELEPHONIST_STATUS__SOCKET_DIR"] = str(cwd / "status")
        (cwd / "telephonist.toml").write_text(_toml(redis_url if spec.uses_redis else None))
        if spec.name == "bolt":
            commands = [([python, "-m", "bench.slackapp.bolt_echo"], "bolt: ready")]
        elif spec.name == "telephonist-run":
            commands = [([*cli, "run"], "telephonist: ready")]
        else:
            commands = [([*cli, "worker"], "telephonist: ready"),
                        ([*cli, "serve"], "telephonist: ready")]  # fmt: skip
        processes: list[Process] = []
        try:
            for i, (command, ready) in enumerate(commands):
                process = Process(command, log=cwd / f"{spec.name}-{i}.log", cwd=cwd, env=env,
                                  new_session=True)  # fmt: skip
                processes.append(process)
                process.wait_for_line(f"^{ready}$", timeout=60)
            yield RunningApp(spec, processes)
        finally:
            for process in reversed(processes):
                process.stop()

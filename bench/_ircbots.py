"""The IRC bots under test, started the way their users start them, one at a time.

Every bot connects to the private ngircd (``_ircd.py``) without TLS, joins the room the
load client is in, and answers ``!ping N`` with ``pong N`` there (``bench/ircapp``):

* ``telephonist-run``: ``telephonist run``, the IRC interface and a worker in one
  process on the in-memory layer, an async consumer answering;
* ``telephonist-split``: ``telephonist serve`` (the IRC interface) plus one
  ``telephonist worker`` over the private Redis/Valkey server;
* ``sopel``: Sopel 8 with one plugin (``sopel start -c``), each command in a thread of
  its own as Sopel does by default;
* ``irc-bare``: the ``irc`` library's asyncio client answering in its ``pubmsg``
  handler, nothing between the line and the reply.

Flood limits are lifted on every bot, so each measures itself and not its pacing:
Telephonist ``flood_control = false``; Sopel ``flood_max_wait = 0`` (its documented
off switch) with the burst and refill raised and anti-loop off (2,000 near-identical
replies would otherwise trip it); the bare bot has no flood control. Logging is at
WARNING (Sopel's too), so no bot writes a line per message.

A bot is ready when the load client sees it JOIN the room (for a split deployment,
after its worker printed ``telephonist: ready``), waited for, never slept for. It is
stopped by the PIDs we started, also at exit and on Ctrl-C; each process runs in a
session of its own (``telephonist.testing.processes``).
"""

from __future__ import annotations

import os
import pwd
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from telephonist.testing.processes import Process

__all__ = ["BOTS", "BotSpec", "start_bot"]

REPO = Path(__file__).resolve().parent.parent
ROUTING = "bench.ircapp.routing.routes"
SOPEL_PLUGINS = REPO / "bench" / "ircapp" / "sopel_plugins"
READY_LINE = "telephonist: ready"


@dataclass(frozen=True)
class BotSpec:
    name: str
    kind: str  # "run", "split", "sopel", "bare"
    description: str

    @property
    def uses_redis(self) -> bool:
        return self.kind == "split"

    @property
    def is_telephonist(self) -> bool:
        return self.kind in ("run", "split")


BOTS = (
    BotSpec("telephonist-run", "run", "telephonist run: IRC interface + worker, in-memory layer"),
    BotSpec("telephonist-split", "split", "telephonist serve + 1 worker over Redis"),
    BotSpec("sopel", "sopel", "Sopel 8, one plugin"),
    BotSpec("irc-bare", "bare", "irc library's asyncio client, answering in its handler"),
)


def _toml(port: int, nick: str, room: str, redis_url: str | None) -> str:
    lines = [
        f'routing = "{ROUTING}"',
        'log_level = "WARNING"',
        "",
        "[[interfaces.irc.networks]]",
        'name = "bench"',
        'host = "127.0.0.1"',
        f"port = {port}",
        "tls = false",
        f'nick = "{nick}"',
        f'channels = ["{room}"]',
        "flood_control = false",
    ]
    if redis_url is not None:
        lines += ["", "[layer]", 'BACKEND = "redis"', f'CONFIG = {{ hosts = ["{redis_url}"] }}']
    return "\n".join(lines) + "\n"


def _sopel_cfg(port: int, nick: str, room: str) -> str:
    return "\n".join(
        [
            "[core]",
            f"nick = {nick}",
            "host = 127.0.0.1",
            f"port = {port}",
            "use_ssl = false",
            "owner = benchowner",
            f"channels = {room}",
            "enable = benchping",
            f"extra = {SOPEL_PLUGINS}",
            "prefix = !",
            "logging_level = WARNING",
            "flood_max_wait = 0",
            "flood_burst_lines = 1000000",
            "flood_refill_rate = 1000000",
            "flood_empty_wait = 0",
            "antiloop_threshold = 0",
            "",
        ]
    )


def _not_root(directory: Path) -> list[str]:
    """Sopel refuses to run as root: as root, run it as ``nobody``, in a directory it owns."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise RuntimeError("Sopel will not run as root, and setpriv (util-linux) is missing")
    nobody = pwd.getpwnam("nobody")
    for path in [directory, *directory.iterdir()]:
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
    return [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]


def _env() -> dict[str, str]:
    # The repository root, not bench/, on the path: bench/http.py would shadow stdlib http.
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path}


def start_bot(
    spec: BotSpec, directory: Path, port: int, nick: str, room: str, redis_url: str | None
) -> list[Process]:
    """Start ``spec``'s processes (the one facing IRC first) in ``directory``; for a
    split deployment, return once its worker is ready."""
    python = sys.executable
    cli = [python, "-m", "telephonist.cli"]
    commands: list[list[str]]
    if spec.kind in ("run", "split"):
        url = redis_url if spec.uses_redis else None
        if spec.uses_redis and url is None:
            raise RuntimeError(f"{spec.name} needs a Redis/Valkey server")
        (directory / "telephonist.toml").write_text(_toml(port, nick, room, url))
        commands = [[*cli, "run"]] if spec.kind == "run" else [[*cli, "serve"], [*cli, "worker"]]
    elif spec.kind == "sopel":
        cfg = directory / "sopel.cfg"
        cfg.write_text(_sopel_cfg(port, nick, room))
        commands = [[*_not_root(directory), python, "-m", "sopel.cli.run", "start", "-c", str(cfg)]]
    elif spec.kind == "bare":
        commands = [[python, "-m", "bench.ircapp.bare", "127.0.0.1", str(port), nick, room]]
    else:
        raise ValueError(f"unknown bot kind {spec.kind!r}")
    procs: list[Process] = []
    try:
        for i, cmd in enumerate(commands):
            log = directory / f"process-{i}.log"
            procs.append(Process(cmd, log=log, cwd=directory, env=_env(), new_session=True))
        for worker in procs[1:]:
            worker.wait_for_line(f"^{READY_LINE}$", timeout=60)
    except BaseException:
        for proc in procs:
            proc.stop()
        raise
    return procs

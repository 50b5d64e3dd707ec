"""How running processes publish their status, and how ``telephonist status`` reads it.

Two transports, one payload (a list of *parts*: each interface server's and worker's
snapshot):

* over the layer, for split deployments across machines: every server's control channel
  and worker inbox is in the group ``telephonist.status``; the command makes a reply
  channel, sends one request to the group and collects answers for a bounded time;
* a per-process Unix socket in a per-user directory, for everything on this machine,
  including the all-in-one process on the in-memory layer, which no other process can
  reach through its layer. Connecting is the request; the process writes one JSON
  document and closes. A socket left by a killed process is removed when found dead.

The socket directory is trusted only if it is this user's alone (``check_socket_dir``):
a directory, not a symlink, owned by us, no access for group or others. The default
lives in the shared temp dir, where anyone may have made ``telephonist-<uid>`` first to
read the status (channel names, peers) or to answer ``telephonist status`` with a
document of their own; such a directory is refused, by the process (no status socket,
one warning) and by the command (no local answers, one warning). What the command reads
is bounded: at most ``MAX_SOCKETS`` sockets, ``MAX_DOCUMENT`` bytes each, and
``MAX_PARTS`` answers over the layer. Text output escapes control characters
(``telephonist.cli.inspect``): a process's answer cannot drive the terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..affinity import control
from ..core.base import BaseChannelLayer
from ..core.memory import InMemoryChannelLayer

__all__ = [
    "MAX_DOCUMENT",
    "MAX_PARTS",
    "MAX_SOCKETS",
    "StatusEndpoint",
    "UnsafeSocketDir",
    "check_socket_dir",
    "default_socket_dir",
    "layer_status",
    "query_layer",
    "query_sockets",
]

log = logging.getLogger("telephonist.status")

Snapshot = Callable[[], dict[str, Any]]


MAX_SOCKETS = 256  # local processes asked, at most
MAX_DOCUMENT = 4 * 1024 * 1024  # bytes of one process's status document
MAX_PARTS = 1000  # answers collected over the layer


class UnsafeSocketDir(PermissionError):
    """The status socket directory is not this user's alone."""


def default_socket_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"telephonist-{os.getuid()}"


def check_socket_dir(directory: Path, create: bool = False) -> None:
    """Raise ``UnsafeSocketDir`` unless ``directory`` is a real directory (not a
    symlink), owned by this user, closed to group and others (``create``: make it 0700
    first if it is missing)."""
    if create:
        directory.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=0o700)
    info = os.lstat(directory)
    if stat.S_ISLNK(info.st_mode):
        raise UnsafeSocketDir(f"{directory} is a symlink")
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeSocketDir(f"{directory} is not a directory")
    if info.st_uid != os.getuid():
        raise UnsafeSocketDir(f"{directory} belongs to uid {info.st_uid}, not {os.getuid()}")
    if info.st_mode & 0o077:
        mode = stat.S_IMODE(info.st_mode)
        raise UnsafeSocketDir(f"{directory} has mode {mode:o}: group or others may enter")


def layer_status(layer: BaseChannelLayer) -> dict[str, Any]:
    """Settings, drop counters, and queue depths and group sizes where the layer can say."""
    info = layer.describe()
    depths = getattr(layer, "depths", None)
    if callable(depths):
        info["depths"] = depths()
    sizes = getattr(layer, "group_sizes", None)
    if callable(sizes):
        info["groups"] = sizes()
    elif isinstance(layer, InMemoryChannelLayer):
        # The in-memory layer has no public group listing; its state is ours to read
        # in-process, under its lock.
        with layer._lock:
            info["groups"] = {name: len(members) for name, members in layer._groups.items()}
    return info


class StatusEndpoint:
    """Serves ``snapshot()`` as JSON on ``<dir>/<pid>.sock`` while the process runs."""

    def __init__(self, directory: Path, snapshot: Snapshot) -> None:
        self.path = directory / f"{os.getpid()}.sock"
        self._snapshot = snapshot
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        check_socket_dir(self.path.parent, create=True)  # UnsafeSocketDir: not ours
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self._server = await asyncio.start_unix_server(self._answer, path=str(self.path))
        os.chmod(self.path, 0o600)  # status shows channel names: the owner's business

    async def _answer(self, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            writer.write(json.dumps(self._snapshot(), default=repr).encode() + b"\n")
            await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


async def _read_socket(path: Path, within: float) -> dict[str, Any] | None:
    try:
        opening = asyncio.open_unix_connection(str(path), limit=MAX_DOCUMENT)
        reader, writer = await asyncio.wait_for(opening, within)
    except (ConnectionRefusedError, FileNotFoundError):
        with contextlib.suppress(OSError):
            os.unlink(path)  # its process is gone
        return None
    except (OSError, TimeoutError):
        return None
    try:
        # readline() raises ValueError past ``limit`` bytes: a document that large is
        # no answer we read.
        data = await asyncio.wait_for(reader.readline(), within)
    except (OSError, TimeoutError, ValueError):
        log.warning("status socket %s: no answer of at most %d bytes", path, MAX_DOCUMENT)
        return None
    finally:
        writer.close()
    try:
        loaded = json.loads(data)
    except ValueError:
        return None
    return loaded if isinstance(loaded, dict) else None


def _socket_paths(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    try:
        check_socket_dir(directory)
    except UnsafeSocketDir as exc:
        log.warning("not reading status sockets: %s", exc)
        return []
    paths: list[Path] = []
    for path in sorted(directory.glob("*.sock")):
        if len(paths) >= MAX_SOCKETS:
            log.warning("more than %d status sockets in %s: the rest not read", MAX_SOCKETS,
                        directory)  # fmt: skip
            break
        paths.append(path)
    return paths


async def query_sockets(directory: Path, within: float) -> list[dict[str, Any]]:
    """Every local process's document (``{"parts": [...], "layer": {...}}``)."""
    paths = _socket_paths(directory)
    found = await asyncio.gather(*(_read_socket(p, within) for p in paths))
    return [doc for doc in found if doc is not None]


async def query_layer(layer: BaseChannelLayer, within: float) -> list[dict[str, Any]]:
    """Ask every process on the layer; answers that arrive within ``within`` seconds."""
    reply = await layer.new_channel("status.")
    await layer.group_send(control.STATUS_GROUP, control.status_request(reply))
    parts: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while (left := deadline - loop.time()) > 0 and len(parts) < MAX_PARTS:
        try:
            batch = await asyncio.wait_for(layer.receive_many(reply, 100), left)
        except TimeoutError:
            break
        parts.extend({k: v for k, v in m.items() if k != "type"} for m in batch)
    return parts[:MAX_PARTS]

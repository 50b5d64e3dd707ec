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
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..affinity import control
from ..core.base import BaseChannelLayer
from ..core.memory import InMemoryChannelLayer

__all__ = [
    "StatusEndpoint",
    "default_socket_dir",
    "layer_status",
    "query_layer",
    "query_sockets",
]

log = logging.getLogger("telephonist.status")

Snapshot = Callable[[], dict[str, Any]]


def default_socket_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"telephonist-{os.getuid()}"


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
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
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
        reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(str(path)), within)
    except (ConnectionRefusedError, FileNotFoundError):
        with contextlib.suppress(OSError):
            os.unlink(path)  # its process is gone
        return None
    except (OSError, TimeoutError):
        return None
    try:
        data = await asyncio.wait_for(reader.readline(), within)
    except (OSError, TimeoutError):
        return None
    finally:
        writer.close()
    try:
        loaded: dict[str, Any] = json.loads(data)
    except ValueError:
        return None
    return loaded


def _socket_paths(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.sock")) if directory.is_dir() else []


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
    while (left := deadline - loop.time()) > 0:
        try:
            batch = await asyncio.wait_for(layer.receive_many(reply, 100), left)
        except TimeoutError:
            break
        parts.extend({k: v for k, v in m.items() if k != "type"} for m in batch)
    return parts

"""``ClusterShard``: a Redis Cluster as one shard whose keys are spread over its nodes.

Why our own slot routing instead of redis-py's ``RedisCluster``: the layer needs its own
connection discipline on every node (one coalescing command connection, dedicated
blocking connections that can be ``CLIENT UNBLOCK``-ed from the command connection of
the *same* node, retries only where at-most-once allows). The routing itself is small:
``CLUSTER SLOTS`` gives the owner of every slot; a ``MOVED`` reply (the command did
not run) refreshes the map and re-runs the command; ``ASK`` runs it once on the node
named, after ``ASKING``, as the cluster spec says.

Every script call touches keys of one slot only (hash tags, see ``keys.py``); what
cannot be one slot, a group's fan-out to members on other slots, is split per slot by
the caller (``groups.py``).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Sequence
from typing import Any

from redis.crc import key_slot
from redis.exceptions import AskError, MovedError, ResponseError

from ..exceptions import LayerUnavailable
from .hosts import HostSpec
from .node import CONNECTION_ERRORS, Node
from .shard import Routed, Shard

__all__ = ["ClusterShard", "redirection"]

SLOTS = 16384
_MAX_REDIRECTS = 5


def redirection(reply: object) -> tuple[str, str, int] | None:
    """``(kind, host, port)`` if ``reply`` is a cluster redirection (``kind`` is ``"MOVED"``
    or ``"ASK"``), else ``None``. redis-py >= 5.1 raises ``MovedError``/``AskError``
    (their text without the keyword); 5.0 a plain ``ResponseError`` with the raw text."""
    if isinstance(reply, (MovedError, AskError)):
        kind = "MOVED" if isinstance(reply, MovedError) else "ASK"
        return kind, str(reply.host), int(reply.port)
    if isinstance(reply, ResponseError):
        parts = str(reply).split()
        if len(parts) == 3 and parts[0] in ("MOVED", "ASK"):
            host, _, port = parts[2].rpartition(":")
            return parts[0], host, int(port)
    return None


def _address(spec: HostSpec) -> tuple[str, int]:
    kwargs = spec.connection_kwargs()
    return str(kwargs.get("host", "localhost")), int(kwargs.get("port", 6379))


class ClusterShard(Shard):
    cluster = True

    def __init__(self, seeds: Sequence[HostSpec], make_node: Callable[[HostSpec], Node]) -> None:
        self._seeds = list(seeds)
        self._make_node = make_node
        self._nodes: dict[tuple[str, int], Node] = {}
        self._map: list[Node] | None = None
        self._lock = asyncio.Lock()
        super().__init__(make_node(self._seeds[0]))

    @property
    def name(self) -> str:
        return "cluster:" + ",".join(spec.identity for spec in self._seeds)

    def _node_at(self, host: str, port: int) -> Node:
        node = self._nodes.get((host, port))
        if node is None:
            node = self._nodes[(host, port)] = self._make_node(
                self._seeds[0].with_address(host, port)
            )
        return node

    async def refresh(self) -> None:
        """Reload the slot map from the first node that answers."""
        async with self._lock:
            # Known nodes first, then the seeds, each seed connected to only if needed.
            known = [*self._nodes.values(), self.node]
            seeds = (self._node_at(*_address(seed)) for seed in self._seeds[1:])
            error: BaseException | None = None
            for candidate in itertools.chain(known, seeds):
                try:
                    [reply] = await candidate.call([("CLUSTER", "SLOTS")])
                except (LayerUnavailable, *CONNECTION_ERRORS) as exc:
                    error = exc
                    continue
                if isinstance(reply, Exception):
                    error = reply
                    continue
                self._map = self._build_map(reply)
                return
            raise LayerUnavailable(f"no cluster node answered CLUSTER SLOTS: {error}")

    def _build_map(self, reply: list[Any]) -> list[Node]:
        slots: list[Node | None] = [None] * SLOTS
        for start, end, primary, *_replicas in reply:
            host = primary[0].decode() if primary[0] else "127.0.0.1"
            node = self._node_at(host, int(primary[1]))
            for slot in range(int(start), int(end) + 1):
                slots[slot] = node
        if any(node is None for node in slots):
            raise LayerUnavailable("the cluster does not cover all slots (CLUSTERDOWN)")
        return [node for node in slots if node is not None]

    async def node_for(self, key: str) -> Node:
        if self._map is None:
            await self.refresh()
        assert self._map is not None
        return self._map[key_slot(key.encode())]

    def slot(self, tag: str) -> int:
        return key_slot(tag.encode())

    def known_nodes(self) -> list[Node]:
        return [self.node, *self._nodes.values()]

    async def nodes(self) -> list[Node]:
        if self._map is None:
            await self.refresh()
        assert self._map is not None
        return list(dict.fromkeys(self._map))

    async def _retry_benign(self, commands: Sequence[Routed], replies: list[Any]) -> None:
        for _ in range(_MAX_REDIRECTS):
            redirected = {i: redirection(r) for i, r in enumerate(replies)}
            moved = [i for i, r in redirected.items() if r is not None and r[0] == "MOVED"]
            asked = [(i, r) for i, r in redirected.items() if r is not None and r[0] == "ASK"]
            if not moved and not asked:
                break
            for i, (_, host, port) in asked:
                node = self._node_at(host, port)
                _, replies[i] = await node.call([("ASKING",), commands[i][1]])
            if moved:
                await self.refresh()
                again = await self._run([commands[i] for i in moved])
                for i, reply in zip(moved, again, strict=True):
                    replies[i] = reply
        await super()._retry_benign(commands, replies)

    async def close(self) -> None:
        nodes = {self.node, *self._nodes.values()}
        self._map = None
        self._nodes = {}
        for node in nodes:
            await node.close()

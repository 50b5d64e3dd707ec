"""Shards: where a key lives. A standalone server (or a Sentinel-managed master) is one
node; a Redis Cluster is many nodes, one per slot range (see ``cluster.py``).

``Shard.execute`` takes ``(routing key, command)`` pairs, runs each on the node that
owns its key, and hides the two benign failures of a command that did not run:
``NOSCRIPT`` (the server lost its script cache; load and retry) and, on a cluster,
``MOVED``/``ASK`` (slots moved; refresh the map and retry).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from redis.exceptions import NoScriptError

from .node import Command, Node
from .scripts import source_for

__all__ = ["Routed", "Shard"]

Routed = tuple[str, Command]  # (key that decides the node, command)


class Shard:
    """One standalone server: every key on one node."""

    cluster = False

    def __init__(self, node: Node) -> None:
        self.node = node

    @property
    def name(self) -> str:
        return self.node.name

    async def node_for(self, key: str) -> Node:
        return self.node

    def slot(self, tag: str) -> int:
        """The slot of a hash tag or a whole key: keys of one slot may share a script call
        or a multi-key command (any keys may, on one server)."""
        return 0

    async def nodes(self) -> list[Node]:
        return [self.node]

    def known_nodes(self) -> list[Node]:
        """The nodes connected to so far, without asking anyone."""
        return [self.node]

    async def refresh(self) -> None:
        """Re-learn where keys live (a cluster's slot map; nothing for one server)."""

    async def execute(self, commands: Sequence[Routed]) -> list[Any]:
        """Run ``commands`` (grouped per node, one round trip each, concurrently) and
        return their replies in order; error replies are returned as exceptions."""
        replies = await self._run(commands)
        await self._retry_benign(commands, replies)
        return replies

    async def _run(self, commands: Sequence[Routed]) -> list[Any]:
        by_node: dict[Node, list[int]] = {}
        for i, (key, _) in enumerate(commands):
            by_node.setdefault(await self.node_for(key), []).append(i)
        replies: list[Any] = [None] * len(commands)

        async def run(node: Node, indexes: list[int]) -> None:
            answers = await node.call([commands[i][1] for i in indexes])
            for i, answer in zip(indexes, answers, strict=True):
                replies[i] = answer

        if len(by_node) == 1:
            [(node, indexes)] = by_node.items()
            await run(node, indexes)
        else:
            await asyncio.gather(*(run(n, ix) for n, ix in by_node.items()))
        return replies

    async def _retry_benign(self, commands: Sequence[Routed], replies: list[Any]) -> None:
        for i, reply in enumerate(replies):
            if isinstance(reply, NoScriptError):
                key, command = commands[i]
                source = source_for(str(command[1]))
                if source is None:
                    continue
                node = await self.node_for(key)
                # The failed EVALSHA ran nothing: load, then run it once more.
                _, replies[i] = await node.call([("SCRIPT", "LOAD", source), command])

    async def unlink_matching(self, pattern: str) -> int:
        """Delete every key matching ``pattern`` on every node (``SCAN`` + ``UNLINK``, one
        ``UNLINK`` per slot, as a cluster requires); returns how many were deleted."""
        deleted = 0
        for node in await self.nodes():
            cursor: Any = 0
            while True:
                [reply] = await node.call([("SCAN", cursor, "MATCH", pattern, "COUNT", 1000)])
                if isinstance(reply, Exception):
                    raise reply
                cursor, keys = reply
                by_slot: dict[int, list[bytes]] = {}
                for key in keys:
                    by_slot.setdefault(self.slot(key.decode()), []).append(key)
                if by_slot:
                    for answer in await node.call([("UNLINK", *ks) for ks in by_slot.values()]):
                        if isinstance(answer, Exception):
                            raise answer
                        deleted += int(answer)
                if int(cursor) == 0:
                    break
        return deleted

    async def close(self) -> None:
        await self.node.close()

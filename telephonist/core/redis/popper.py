"""``Popper``: one blocking pop at a time on a dedicated connection, that can be undone.

``BLMPOP <key> ... 0`` blocks with no timeout: an idle process sends nothing at all. To
stop waiting (every local receiver was cancelled) the popper does not drop the
connection, which could lose a message the server popped just before noticing; it sends
``CLIENT UNBLOCK <id>`` from the node's command connection, so the pop returns empty if
it was still waiting, or with its messages if it had already taken some (the reader
then returns them to the list). The connection's id is learnt with ``CLIENT ID`` in the
same write as its first pop after each (re)connect.

Servers older than Redis 7 lack ``BLMPOP``; the popper then falls back to ``BLPOP``
(one message per round trip).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ResponseError

from .node import Command, Node, is_stale, pack

__all__ = ["Popper"]


class Popper:
    def __init__(self, node: Node) -> None:
        self.node = node
        self._conn: AbstractConnection | None = None
        self._client_id: int | None = None
        self._blocked = False

    async def pop(
        self,
        key: str,
        count: Callable[[], int],
        before: Sequence[Command] = (),
        on_before: Callable[[list[Any]], None] | None = None,
    ) -> list[bytes]:
        """Block until ``key`` has messages; pop up to ``count()`` of them (evaluated just
        before the pop is sent; 0 means nobody wants any: return at once). ``before``
        commands go in the same write; their replies go to ``on_before`` as soon as they
        are read, before the pop blocks."""
        if self._conn is None:
            self._conn = self.node.acquire_blocking()
        conn = self._conn
        if not conn.is_connected or await is_stale(conn):
            await self.node.connect(conn)
            self._client_id = None
        n = count()
        if n <= 0:
            return []
        commands = list(before)
        if self._client_id is None:
            commands.append(("CLIENT", "ID"))
        legacy = self.node.legacy_pop  # the reply's shape follows the command sent
        if legacy:
            commands.append(("BLPOP", key, 0))
        else:
            commands.append(("BLMPOP", 0, 1, key, "LEFT", "COUNT", n))
        try:
            await conn.send_packed_command(pack(commands), check_health=False)
            replies: list[Any] = []
            for _ in before:
                try:
                    replies.append(await conn.read_response())
                except ResponseError as exc:
                    replies.append(exc)
            if on_before is not None and before:
                on_before(replies)
            if self._client_id is None:
                self._client_id = int(await conn.read_response())
            self._blocked = True
            try:
                reply = await conn.read_response()
            finally:
                self._blocked = False
        except ResponseError as exc:
            if legacy or "unknown command" not in str(exc).lower():
                raise
            self.node.legacy_pop = True  # an old server: retry, and pop, with BLPOP
            return []
        except BaseException:
            await self.discard()
            raise
        if reply is None:  # unblocked
            return []
        if legacy:
            return [reply[1]]
        items: list[bytes] = reply[1]
        return items

    async def unblock(self) -> None:
        """Make a pending pop return now (see the module docstring)."""
        if self._blocked and self._client_id is not None:
            await self.node.call([("CLIENT", "UNBLOCK", self._client_id)])

    async def discard(self) -> None:
        """Drop the connection (after an error, or on close)."""
        conn, self._conn, self._client_id = self._conn, None, None
        if conn is not None:
            await conn.disconnect(nowait=True)

    def release(self) -> None:
        """Give an idle, healthy connection back to the node for the next reader."""
        conn, self._conn = self._conn, None
        if conn is not None and not self._blocked:
            self.node.release_blocking(conn)

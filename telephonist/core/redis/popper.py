"""``Popper``: one blocking pop at a time on a dedicated connection, that can be undone.

``BLMPOP <key> ... 0`` blocks with no timeout: an idle process sends nothing at all. To
stop waiting (every local receiver was cancelled) the popper does not drop the
connection, which could lose a message the server popped just before noticing; it sends
``CLIENT UNBLOCK <id>`` from the node's command connection, so the pop returns empty if
it was still waiting, or with its messages if it had already taken some (the reader
then returns them to the list). The connection's id is learnt with ``CLIENT ID`` in the
same write as its first pop on each connection.

``pop`` writes and returns at once; the reply goes to a callback, run by the connection
(``wire.py``) as soon as the reply is parsed, so a receive loop is a chain of callbacks,
each writing the next pop, with no task waking in between.

Servers older than Redis 7 lack ``BLMPOP``; the popper then falls back to ``BLPOP``
(one message per round trip).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from redis.exceptions import ResponseError

from .node import Command, Node, pack
from .wire import Wire

__all__ = ["Popped", "Popper"]

Popped = Callable[[list[bytes] | BaseException], None]


class Popper:
    def __init__(self, node: Node) -> None:
        self.node = node
        self.wire: Wire | None = None
        self.blocked = False

    @property
    def ready(self) -> bool:
        """Holding an open connection (``pop`` may be called now)."""
        return self.wire is not None and not self.wire.closed

    def reuse(self) -> bool:
        """Take an idle connection of the node's, if it has one: no await needed."""
        if not self.ready:
            self.wire = self.node.idle_blocking()
        return self.ready

    async def connect(self) -> None:
        """Open (or reuse) a connection; raises ``LayerUnavailable`` past the budget."""
        if not self.ready:
            self.wire = await self.node.open_blocking()

    def pop(
        self,
        key: str,
        count: int,
        done: Popped,
        before: Sequence[Command] = (),
        on_before: Callable[[list[Any] | BaseException], None] | None = None,
    ) -> None:
        """Write a blocking pop of up to ``count`` messages of ``key``; ``done`` gets the
        popped envelopes (``[]`` if unblocked) or the exception that ended the pop.
        ``before`` commands go in the same write; their replies go to ``on_before`` as
        soon as they are read, before the pop blocks."""
        wire = self.wire
        assert wire is not None, "pop() before connect()"
        commands = list(before)
        expected: list[tuple[int, Callable[[Any], None]]] = []
        if before:
            expected.append((len(before), on_before or _ignore))
        if wire.client_id is None:
            commands.append(("CLIENT", "ID"))
            expected.append((1, partial(_client_id, wire)))
        legacy = self.node.legacy_pop  # the reply's shape follows the command sent
        if legacy:
            commands.append(("BLPOP", key, 0))
        else:
            commands.append(("BLMPOP", 0, 1, key, "LEFT", "COUNT", count))
        expected.append((1, partial(self._popped, legacy, done)))
        self.blocked = True
        wire.write(pack(commands), expected)

    def _popped(self, legacy: bool, done: Popped, replies: list[Any] | BaseException) -> None:
        self.blocked = False
        if isinstance(replies, BaseException):
            done(replies)
            return
        [reply] = replies
        if isinstance(reply, ResponseError):
            if not legacy and "unknown command" in str(reply).lower():
                self.node.legacy_pop = True  # an old server: the caller pops again
                done([])
            else:
                done(reply)
        elif reply is None:  # unblocked
            done([])
        elif legacy:
            done([reply[1]])
        else:
            done(reply[1])

    async def unblock(self) -> None:
        """Make a pending pop return now (see the module docstring)."""
        wire = self.wire
        if self.blocked and wire is not None and wire.client_id is not None:
            await self.node.call([("CLIENT", "UNBLOCK", wire.client_id)])

    def discard(self) -> None:
        """Drop the connection (after an error, or on close): a pending pop fails."""
        wire, self.wire = self.wire, None
        if wire is not None:
            wire.close()

    def release(self) -> None:
        """Give an idle, healthy connection back to the node for the next reader."""
        wire, self.wire = self.wire, None
        if wire is not None:
            if self.blocked:
                wire.close()
            else:
                self.node.release_blocking(wire)


def _client_id(wire: Wire, replies: list[Any] | BaseException) -> None:
    if not isinstance(replies, BaseException) and isinstance(replies[0], int):
        wire.client_id = replies[0]


def _ignore(replies: list[Any] | BaseException) -> None:
    return None

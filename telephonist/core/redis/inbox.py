"""``InboxReader``: the one receive loop of a process's inbox, all its ``!`` channels.

It blocks on the process inbox for as long as the loop state lives and files what it
pops under the process's ``!`` channels (``local.py``), handing each message straight to
a receiver that is waiting for it, in the callback that parsed the pop's reply (see
``readers.py``). It is supervised: any failure (a Redis restart, a failover, a ``MOVED``
slot) is logged, waited out with backoff and jitter, and the loop resumes on a fresh
connection, so pending receives keep waiting instead of finding a dead loop. Acks queued
for the inbox ride on its next pop. An envelope that is not one, names no channel, or
names channels of another process is dropped and counted (``drops.py``); a payload that
does not decode is dropped where it would be handed over (``local.py``). Cancelled
(``close()``, or the loop shutting down with the layer never closed), it ends quietly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

from ..exceptions import MalformedMessage
from ..stats import LayerStats
from .backoff import Backoff
from .drops import INBOX, Drops
from .keys import now_ms, owned_by, unpack_envelope
from .local import AckBuffer, LocalChannels
from .node import CONNECTION_ERRORS, Command
from .popper import Popper
from .readers import wait_out
from .shard import Shard

__all__ = ["InboxReader"]

logger = logging.getLogger("telephonist.layer.redis")

_INBOX_BATCH = 512  # the inbox is ours alone: take whatever is there, up to this
_ACK_INLINE = 64  # channels delivered by one pop up to which the next pop is written at once


class InboxReader:
    def __init__(
        self,
        tag: str,
        key: str,
        shard: Shard,
        local: LocalChannels,
        acks: AckBuffer,
        ack_command: Callable[[str, Counter[str]], Command],
        stats: LayerStats,
        drops: Drops,
        max_payload: int,
    ) -> None:
        self.tag = tag
        self._key = key
        self._shard = shard
        self._local = local
        self._acks = acks
        self._ack_command = ack_command
        self._stats = stats
        self._drops = drops
        self._max_payload = max_payload
        self._closing = False
        self._popper: Popper | None = None
        self._ended: asyncio.Future[BaseException] | None = None
        self._backoff: Backoff | None = None
        self.task = asyncio.create_task(self._supervise(), name=f"telephonist-inbox-{tag}")
        self.task.add_done_callback(self._task_ended)

    def _task_ended(self, task: asyncio.Task[None]) -> None:
        if self._closing:
            return
        if task.cancelled():
            # Most likely the loop shutting down with the layer never closed (asyncio.run
            # cancels every task): an end, not a failure, so no line. A cancel from
            # anywhere else is still undone if someone waits (``_restart_if_waited``).
            logger.debug("inbox reader %s cancelled", self.tag)
        else:
            # Never silently dead: its receivers would wait forever. (The supervisor
            # outlives every error, so this is a last line of defence against a bug.)
            logger.error("inbox reader %s ended unexpectedly (%r); restarting it", self.tag, task)
        with contextlib.suppress(RuntimeError):  # the loop is closing: nothing to serve
            asyncio.get_running_loop().call_later(1.0, self._restart_if_waited)

    def _restart_if_waited(self) -> None:
        # Only for receivers already waiting: any later receive restarts a reader that is
        # done (``LoopState.ensure_inbox``), and at a loop's shutdown nobody waits by now.
        if self._local.waiting():
            self.restart()

    def restart(self) -> None:
        """Run the reader again if its task ended."""
        if not self._closing and self.task.done():
            self.task = asyncio.create_task(self._supervise(), name=self.task.get_name())
            self.task.add_done_callback(self._task_ended)

    async def _supervise(self) -> None:
        while True:
            popper: Popper | None = None
            try:
                popper = Popper(await self._shard.node_for(self._key))
                await popper.connect()
                self._ended = asyncio.get_running_loop().create_future()
                self._popper = popper
                self._pop()
                raise await self._ended  # the chain runs in callbacks until it fails
            except asyncio.CancelledError:
                self._stop(popper)
                raise
            except Exception as exc:
                self._stop(popper)
                if popper is not None and isinstance(exc, CONNECTION_ERRORS):
                    popper.node.note_failure(exc)
                self._backoff = self._backoff or self._shard.node.new_backoff()
                delay = self._backoff.delay()
                await wait_out(self._shard, exc, delay, f"inbox reader {self.tag}")

    def _stop(self, popper: Popper | None) -> None:
        self._popper = None
        if popper is not None:
            popper.discard()

    def _pop(self) -> None:
        popper = self._popper
        if popper is None or popper.blocked:
            return  # stopped, or a pop is out already (a late call after a reconnect)
        pending = self._acks.take(self.tag)
        before = [self._ack_command(self.tag, pending)] if pending else []

        def acked(replies: list[Any] | BaseException) -> None:
            failed = isinstance(replies, BaseException) or isinstance(replies[0], Exception)
            if pending and failed:
                # NOSCRIPT, or the connection went: the command pipe path sends them.
                for channel, n in pending.items():
                    self._acks.add(channel, n)

        popper.pop(self._key, _INBOX_BATCH, self._popped, before, acked)

    def _popped(self, items: list[bytes] | BaseException) -> None:
        if isinstance(items, BaseException):
            if self._ended is not None and not self._ended.done():
                self._ended.set_result(items)
            return
        if self._backoff is not None:
            self._backoff.reset()
        if not items:
            self._pop()  # unblocked, or a legacy server's retry: nothing to hand on
            return
        now = now_ms()
        local = self._local
        tag = self.tag
        named = 0
        for raw in items:
            try:
                envelope = unpack_envelope(raw, self._max_payload)
            except MalformedMessage as exc:
                self._drops.malformed(INBOX, exc)
                continue
            channels = envelope.channels
            if not channels:
                self._drops.malformed(INBOX, "an envelope that names no channel")
                continue
            named += len(channels)
            if envelope.expires_ms <= now:
                self._expired(channels)
            else:
                local.deliver(envelope, tag)
        if named <= _ACK_INLINE:
            self._pop()  # at once, carrying the acks of what was just handed over
        else:
            # A big delivery (a group send to many of our channels): the receivers just
            # handed their messages run first instead of waiting behind packing and
            # writing an ack for every one of them (measured: 3.5 ms for 1,000).
            asyncio.get_running_loop().call_soon(self._pop)

    def _expired(self, channels: list[str]) -> None:
        owned = [channel for channel in channels if owned_by(channel, self.tag)]
        if len(owned) < len(channels):
            self._drops.malformed(INBOX, "an envelope naming a channel of another process")
        if owned:
            self._stats.incr("expired", len(owned))
            self._acks.add_all(owned)

    async def close(self) -> None:
        self._closing = True
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)

"""``LoopState``: everything the layer holds for one event loop.

redis-py connections (and our futures and tasks) belong to the loop that created them;
using one from another loop fails with "attached to a different loop" or, worse, after
that loop closed, "Event loop is closed". The layer therefore keeps one ``LoopState``
per running loop (the main loop, a ``SyncLayer`` thread's private loop, ...), each with
its own connections, send buffers, receive loops and process token: channels made by
``new_channel`` on a loop are read by that loop's inbox reader.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from ..stats import LayerStats, Traffic
from .cluster import ClusterShard
from .drops import Drops
from .hosts import HostSpec
from .inbox import InboxReader
from .keys import TOKEN_LENGTH, KeyLayout
from .local import AckBuffer, Acks, LocalChannels
from .node import Command, Node
from .readers import ChannelReader
from .ring import HashRing
from .scripts import ACK
from .sending import SendBuffer
from .shard import Shard

__all__ = ["LoopState", "Settings"]

_IDLE_READERS = 16  # normal-channel readers kept listed while idle (no connection held)


@dataclass(frozen=True)
class Settings:
    """What every loop's state is built from (immutable, shared across loops)."""

    specs: tuple[HostSpec, ...]
    cluster: bool
    layout: KeyLayout
    ring: HashRing
    stats: LayerStats
    drops: Drops
    max_payload: int  # the layer's max_message_size: bigger payloads are dropped unread
    ttl_ms: int
    retry_budget: float
    backoff_cap: float
    #: Told the milliseconds each message popped from a shared channel had left before
    #: expiry: the layer turns that into its time in the queue (``queued`` timing).
    queued: Callable[[int], None] | None = None
    #: The layer's ``traffic``: messages handed to listeners count as received there.
    traffic: Traffic | None = None


class LoopState:
    def __init__(self, settings: Settings, loop: asyncio.AbstractEventLoop) -> None:
        self.settings = settings
        self.loop = loop
        self.token = secrets.token_hex(TOKEN_LENGTH // 2)
        self.layout = settings.layout
        if settings.cluster:
            self.shards: list[Shard] = [ClusterShard(settings.specs, self._node)]
        else:
            self.shards = [Shard(self._node(spec)) for spec in settings.specs]
        self.senders = [SendBuffer(s, settings.stats, settings.ttl_ms) for s in self.shards]
        self.acks = AckBuffer(self._send_acks)
        self.local = LocalChannels(settings.stats, self.acks, settings.drops, settings.traffic)
        self.inboxes: dict[str, InboxReader] = {}
        self.readers: dict[str, ChannelReader] = {}

    def _node(self, spec: HostSpec) -> Node:
        s = self.settings
        return Node(spec, s.stats, s.retry_budget, s.backoff_cap)

    def shard_index(self, tag: str) -> int:
        return self.settings.ring.index(tag)

    # -- process-specific channels ------------------------------------------------------

    def ensure_inbox(self, tag: str) -> None:
        """Start the (one, supervised) blocking receive loop for inbox ``tag``, or start it
        again if it ended (it should not: its supervisor outlives every error)."""
        reader = self.inboxes.get(tag)
        if reader is not None:
            if reader.task.done():
                reader.restart()
        else:
            key = self.layout.inbox(tag)
            self.inboxes[tag] = InboxReader(
                tag,
                key,
                self.shards[self.shard_index(tag)],
                self.local,
                self.acks,
                self._ack_command,
                self.settings.stats,
                self.settings.drops,
                self.settings.max_payload,
            )

    def _ack_command(self, tag: str, counts: Counter[str]) -> Command:
        # The ACK script's arguments: the channels acked once, then (channel, n) pairs.
        ones = [channel for channel, n in counts.items() if n == 1]
        others = [x for channel, n in counts.items() if n != 1 and n for x in (channel, n)]
        return ("EVALSHA", ACK.sha, 1, self.layout.counts(tag), len(ones), *ones, *others)

    async def _send_acks(self, acks: Acks) -> None:
        by_shard: dict[int, list[tuple[str, Command]]] = {}
        for tag, counts in acks.items():
            command = self._ack_command(tag, counts)
            by_shard.setdefault(self.shard_index(tag), []).append((str(command[3]), command))
        results = await asyncio.gather(
            *(self.shards[i].execute(cmds) for i, cmds in by_shard.items()),
            return_exceptions=True,
        )
        # A lost ack leaves a channel's count high until its key expires (a dead or
        # restarted server forgot the counts anyway): nothing to retry, nothing to raise.
        del results

    # -- normal channels ------------------------------------------------------------------

    def reader(self, channel: str) -> ChannelReader:
        reader = self.readers.get(channel)
        if reader is None:
            key = self.layout.channel(channel)
            shard = self.shards[self.shard_index(channel)]

            async def push_back(envelopes: list[bytes]) -> None:
                # LPUSH takes its arguments head-last: reversed, the oldest ends up first.
                for reply in await shard.execute([(key, ("LPUSH", key, *reversed(envelopes)))]):
                    if isinstance(reply, Exception):
                        raise reply

            s = self.settings
            reader = self.readers[channel] = ChannelReader(
                key,
                shard,
                s.stats,
                push_back,
                self._reader_idle(channel),
                s.drops,
                s.max_payload,
                f"channel {channel!r}",
                s.queued,
            )
        return reader

    def _reader_idle(self, channel: str) -> Callable[[ChannelReader], None]:
        def forget(reader: ChannelReader) -> None:
            # An idle reader holds no connection; the last few stay listed, so a worker
            # that receives on the same channel again and again (most do) does not build
            # a reader each time. Beyond that, the idle ones go.
            if len(self.readers) <= _IDLE_READERS:
                return
            for name, other in list(self.readers.items()):
                if other.idle:
                    del self.readers[name]

        return forget

    # -- lifecycle ------------------------------------------------------------------------

    def clear_local(self) -> None:
        """Drop locally buffered messages (``flush``)."""
        self.local.clear()
        self.acks.clear()

    async def close(self) -> None:
        for inbox in list(self.inboxes.values()):
            await inbox.close()
        for reader in list(self.readers.values()):
            await reader.close()
        self.inboxes.clear()
        self.readers.clear()
        self.local.close()
        await self.acks.close()
        for sender in self.senders:
            await sender.close()
        for shard in self.shards:
            await shard.close()

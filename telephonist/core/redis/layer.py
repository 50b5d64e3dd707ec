"""``RedisChannelLayer``: the channel layer for split deployments, over Redis or Valkey.

Theory of operation
-------------------
**Keys.** With ``prefix`` ``P`` (see ``keys.py``): a normal channel is a list
``P:c:{name}``; every process-specific (``!``) channel of one process shares the inbox
list ``P:p:{tag}`` (``tag``: the process token in the name), next to the hash
``P:n:{tag}`` counting the messages of each of those channels, so that capacity stays per
*logical* channel although the list is shared; a group is a sorted set ``P:g:{group}``
of member -> membership expiry. Braces are Redis Cluster hash tags: all keys one
script touches for one channel or process are in one slot. Every list and hash gets a
``PEXPIRE`` of twice ``expiry`` on each write: long enough that expired messages are
popped and counted rather than vanishing unseen, short enough that the inbox of a
process that died goes away on its own.

**Messages** travel as envelopes ``<expires_ms>|<channels>|<msgpack>``: the absolute
expiry (dropped and counted ``expired`` by whoever pops it late), the full channel
name(s) for an inbox (one entry may serve several channels of a process after a group
send), and the payload from ``codec.encode`` (so ``max_message_size`` is measured on
what crosses the wire).

**Sending** (``sending.py``) is one ``SEND`` script call per shard (per slot on a
cluster) for all sends issued in one loop iteration: the script checks each message's
capacity (list length, or the channel's count in the process's hash) and pushes it or
refuses it, answering per message, so ``ChannelFull`` is exact and atomic.

**Receiving** never polls. All ``!`` channels of this loop are read by ONE supervised
``BLMPOP ... 0`` on the process inbox that blocks for as long as nothing arrives
(``readers.InboxReader``), handing each message straight to a receiver waiting on its
channel, else to a per-channel buffer (``local.py``); a message leaves its channel's
count when it leaves this process's hands. Each normal channel with local receivers has
a blocking pop of its own that asks for exactly as many messages as receivers are
waiting (``readers.ChannelReader``). An idle process sends no command at all.
A process receives only on ``!`` channels whose token one of its loops made: another
process's inbox is not ours to pop. Nothing popped is trusted: each reader decodes
inside its own error boundary and drops what is not a message (``drops.py``).

**Groups** (``groups.py``): one ``GROUP_SEND`` script per shard drops lapsed members and
pushes the message once per receiving process (naming its member channels) and once
per normal member, skipping full members; on a cluster the read and the fan-out are
split per slot.

**Connections** (``node.py``) are per event loop (``state.py``): each loop has its own
coalescing command connection per server and its own blocking connections, so the
``SyncLayer``'s private loop and the main loop can share one layer object. redis-py
opens and sets each one up; the layer then reads its replies itself (``wire.py``), in
callbacks that settle the waiting sender or receiver directly, with no task between the
socket and the code that wants the reply. A restarted
server is reconnected with exponential backoff and jitter (counted ``reconnects``);
nothing already written is retried, which is what keeps delivery at-most-once.

Settings are ``channels_redis``'s (``hosts``, ``prefix``, ``expiry``, ``group_expiry``,
``capacity``, ``channel_capacity``), so a Channels 4 project can name this class in
``CHANNEL_LAYERS`` unchanged; ``cluster=True`` treats ``hosts`` as seeds of one Redis
Cluster.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from typing import Any, ClassVar

from redis.crc import key_slot

from ..base import BaseChannelLayer
from ..capacity import Pattern
from ..claims import CLAIMS
from ..codec import DEFAULT_MAX_MESSAGE_SIZE, Content, decode, encode
from ..exceptions import (
    ChannelFull,
    InvalidChannelLayerError,
    MalformedMessage,
    MessageTooLarge,
)
from ..listeners import LISTEN, Listener
from ..names import foreign_channel_error, require_valid_channel_name, require_valid_group_name
from .claims import RedisClaims
from .drops import Drops
from .groups import Groups, tag_of
from .hosts import parse_hosts
from .keys import KeyLayout, now_ms, pack_envelope, process_tag
from .ring import HashRing
from .sending import Route
from .state import LoopState, Settings

__all__ = ["RedisChannelLayer"]

_ROUTE_CACHE = 16384  # channels whose route is remembered (see ``_route``)
_TOKENS_KEPT = 4096  # process tokens this layer made whose channels it still receives on


class RedisChannelLayer(BaseChannelLayer):
    """Redis/Valkey channel layer; a drop-in ``channels_redis`` replacement.

    ``hosts``: servers to shard over (see ``hosts.py`` for the accepted forms; default
    ``redis://localhost:6379``). ``prefix``: start of every key, so several layers or
    applications can share servers. ``expiry``, ``group_expiry``, ``capacity``,
    ``channel_capacity``, ``max_message_size``: as ``BaseChannelLayer``.
    ``cluster``: ``hosts`` are seed nodes of one Redis Cluster. ``retry_budget``: how
    long a send waits for an unreachable server before ``LayerUnavailable``.
    ``reconnect_max_delay``: the cap of the reconnect backoff.

    Also accepted, for ``channels_redis`` configs: ``serializer_format`` (only
    ``"msgpack"``, the one this layer speaks) and ``random_prefix_length`` (ignored: the
    process token has a fixed length, because senders find a process's inbox by it).
    ``symmetric_encryption_keys`` is refused: use TLS (``rediss://``).
    """

    #: ``claims`` (``core/claims.py``): set-if-absent with expiry, shared by every process.
    #: ``listen`` (``core/listeners.py``): called where the inbox reader files a message.
    extensions: ClassVar[list[str]] = [*BaseChannelLayer.extensions, CLAIMS, LISTEN]

    def __init__(
        self,
        hosts: object = None,
        prefix: str = "telephonist",
        expiry: float = 60,
        group_expiry: float = 86400,
        capacity: int = 100,
        channel_capacity: Mapping[Pattern, int] | None = None,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        *,
        cluster: bool = False,
        retry_budget: float = 10.0,
        reconnect_max_delay: float = 2.0,
        symmetric_encryption_keys: object = None,
        serializer_format: str = "msgpack",
        random_prefix_length: int | None = None,
    ) -> None:
        super().__init__(expiry, group_expiry, capacity, channel_capacity, max_message_size)
        if symmetric_encryption_keys:
            raise InvalidChannelLayerError(
                "symmetric_encryption_keys is not supported: use rediss:// (TLS) instead"
            )
        if serializer_format != "msgpack":
            raise InvalidChannelLayerError(
                f"serializer_format {serializer_format!r} is not supported: messages are msgpack"
            )
        del random_prefix_length  # accepted for channels_redis configs; see the docstring
        try:
            layout = KeyLayout(prefix)
        except ValueError as exc:
            raise InvalidChannelLayerError(str(exc)) from exc
        specs = tuple(parse_hosts(hosts))
        self.hosts = [spec.identity for spec in specs]
        self.prefix = prefix
        self._expiry_ms = int(expiry * 1000)
        ring = HashRing([spec.identity for spec in specs] if not cluster else ["cluster"])
        self._drops = Drops(self.stats)
        self._settings = Settings(
            specs=specs,
            cluster=cluster,
            layout=layout,
            ring=ring,
            stats=self.stats,
            drops=self._drops,
            max_payload=max_message_size,
            # Keys outlive their messages, so expired ones are popped and counted rather
            # than vanishing unseen with the key (see the module docstring).
            ttl_ms=2 * self._expiry_ms,
            retry_budget=retry_budget,
            backoff_cap=reconnect_max_delay,
            queued=self._observe_queued,
            traffic=self.traffic,
        )
        self._groups = Groups(
            layout,
            ring,
            self.capacities,
            dict(channel_capacity or {}),
            self.stats,
            int(group_expiry * 1000),
            2 * self._expiry_ms,
        )
        self._lock = threading.Lock()
        self._states: dict[asyncio.AbstractEventLoop, LoopState] = {}
        self._owners: dict[str, LoopState] = {}  # process token -> the loop that made it
        # Every token this layer made, the loops' that closed too (their channels may be
        # received on again from another loop): oldest forgotten first past the bound.
        self._made: dict[str, None] = {}
        self._routes: dict[str, Route] = {}

    def _observe_queued(self, left_ms: int) -> None:
        # Sent at expiry minus the layer's expiry; milliseconds, as the envelope keeps
        # them, and across hosts only as good as their clocks agree.
        self.timings.observe("queued", max(0, self._expiry_ms - left_ms) / 1000)

    def _state(self) -> LoopState:
        loop = asyncio.get_running_loop()
        state = self._states.get(loop)
        if state is None:
            with self._lock:
                for stale in [lp for lp in self._states if lp.is_closed()]:
                    self._forget(self._states.pop(stale))
                state = self._states[loop] = LoopState(self._settings, loop)
                self._owners[state.token] = state
                if len(self._made) >= _TOKENS_KEPT:
                    del self._made[next(iter(self._made))]
                self._made[state.token] = None
        return state

    def _forget(self, state: LoopState) -> None:
        if self._owners.get(state.token) is state:
            del self._owners[state.token]

    # -- sending ----------------------------------------------------------------------

    def _encode(self, message: Content) -> bytes:
        try:
            return encode(message, self.max_message_size)
        except MessageTooLarge:
            self.stats.incr("too_large")
            raise

    def _route(self, channel: str) -> Route:
        """Where ``channel``'s messages go (validated once, then cached)."""
        route = self._routes.get(channel) if type(channel) is str else None
        if route is None:
            require_valid_channel_name(channel)
            layout = self._settings.layout
            tag = tag_of(channel)
            index = self._settings.ring.index(tag)
            if "!" in channel:
                list_key, counts_key, name = layout.inbox(tag), layout.counts(tag), channel
            else:
                list_key, counts_key, name = layout.channel(channel), None, ""
            slot = 0
            if self._settings.cluster:
                slot = key_slot(tag.encode())
            route = Route(
                index,
                slot,
                list_key,
                counts_key,
                channel,
                self.capacities.for_channel(channel),
                name.encode(),
            )
            if len(self._routes) >= _ROUTE_CACHE:
                self._routes.clear()  # reply channels come and go: keep it bounded
            self._routes[channel] = route
        return route

    async def send(self, channel: str, message: Content) -> None:
        route = self._routes.get(channel) if type(channel) is str else None
        route = route or self._route(channel)
        data = self._encode(message)
        state = self._state()
        envelope = b"%d|%s|%s" % (now_ms() + self._expiry_ms, route.name, data)
        started = time.perf_counter()
        accepted = await state.senders[route.shard].submit(route, envelope)
        self.timings.observe("send", time.perf_counter() - started)
        if not accepted:
            self.stats.incr("full")
            raise ChannelFull(f"channel {channel!r} is at capacity")
        self.traffic.sent += 1

    async def send_many(self, messages: Sequence[tuple[str, Content]]) -> list[bool]:
        routes = [self._route(channel) for channel, _ in messages]
        encoded = [self._encode(message) for _, message in messages]
        state = self._state()
        expires = now_ms() + self._expiry_ms
        futures = [
            state.senders[route.shard].submit(route, pack_envelope(expires, route.name, data))
            for route, data in zip(routes, encoded, strict=True)
        ]
        started = time.perf_counter()
        results = list(await asyncio.gather(*futures))
        self.timings.observe("send_many", time.perf_counter() - started)
        refused = results.count(False)
        if refused:
            self.stats.incr("full", refused)
        self.traffic.sent += len(results) - refused
        return results

    # -- receiving --------------------------------------------------------------------

    async def receive(self, channel: str) -> Content:
        return (await self._receive(channel, 1))[0]

    async def receive_many(self, channel: str, max_messages: int = 100) -> list[Content]:
        if max_messages < 1:
            raise ValueError("max_messages must be at least 1")
        return await self._receive(channel, max_messages)

    def _receive(self, channel: str, n: int) -> Awaitable[list[Content]]:
        # Not a coroutine itself: it returns the one to await, one frame less per receive.
        require_valid_channel_name(channel)
        state = self._state()
        if "!" not in channel:
            return self._receive_normal(state, channel, n)
        tag = process_tag(channel)
        owner = self._owners.get(tag)
        if owner is None and tag not in self._made:
            raise foreign_channel_error(channel)  # another process's: its inbox, not ours
        if owner is not None and owner is not state and not owner.loop.is_closed():
            # Made on another loop (say a SyncLayer thread): that loop's inbox reader
            # gets its messages, so the receive runs there.
            future = asyncio.run_coroutine_threadsafe(
                self._receive_local(owner, tag, channel, n), owner.loop
            )
            return asyncio.wrap_future(future)
        state.ensure_inbox(tag)
        return state.local.receive(channel, n)  # counted there (the layer's ``traffic``)

    async def _receive_normal(self, state: LoopState, channel: str, n: int) -> list[Content]:
        while True:
            payloads = await state.reader(channel).receive(n)
            self.traffic.received += len(payloads)
            try:
                return [decode(payload) for payload in payloads]
            except MalformedMessage:
                # Off the good path: find the bad ones, hand on the rest; if none is
                # left, wait on (a receive returns at least one message).
                messages = self._decode_each(f"channel {channel!r}", payloads)
                if messages:
                    return messages

    def _decode_each(self, where: str, payloads: list[memoryview]) -> list[Content]:
        messages = []
        for payload in payloads:
            try:
                messages.append(decode(payload))
            except MalformedMessage as exc:
                self._drops.malformed(where, exc)
        return messages

    async def _receive_local(
        self, state: LoopState, tag: str, channel: str, n: int
    ) -> list[Content]:
        state.ensure_inbox(tag)
        return await state.local.receive(channel, n)

    def listen(self, channel: str, listener: Listener) -> bool:
        """Call ``listener`` where this loop's inbox reader files a message for
        ``channel`` (``listeners.py``); ``False`` if the channel was made on another
        loop (its messages reach that loop's reader, not ours)."""
        require_valid_channel_name(channel)
        tag = process_tag(channel)
        state = self._state()
        if self._owners.get(tag) is not state:
            if tag not in self._made:
                raise foreign_channel_error(channel)
            return False
        state.ensure_inbox(tag)
        state.local.listen(channel, listener)
        return True

    def unlisten(self, channel: str, listener: Listener) -> None:
        state = self._owners.get(process_tag(channel))
        if state is not None:
            state.local.unlisten(channel, listener)

    async def new_channel(self, prefix: str = "specific.") -> str:
        state = self._state()
        name = f"{prefix}{state.token}!{secrets.token_hex(8)}"
        require_valid_channel_name(name)
        return name

    # -- groups -----------------------------------------------------------------------

    async def group_add(self, group: str, channel: str) -> None:
        require_valid_group_name(group)
        require_valid_channel_name(channel)
        await self._groups.add(self._state().shards, group, channel)

    async def group_discard(self, group: str, channel: str) -> None:
        require_valid_group_name(group)
        require_valid_channel_name(channel)
        await self._groups.discard(self._state().shards, group, channel)

    async def group_send_many(self, groups: Iterable[str], message: Content) -> None:
        groups = list(groups)
        for group in groups:
            require_valid_group_name(group)
        data = self._encode(message)
        state = self._state()
        await self._groups.send(state.shards, groups, data, now_ms() + self._expiry_ms)

    async def group_channels(self, group: str) -> list[str]:
        require_valid_group_name(group)
        return await self._groups.channels(self._state().shards, group)

    # -- claims (core/claims.py, redis/claims.py) -----------------------------------

    def _claims(self) -> RedisClaims:
        return RedisClaims(self._settings.layout, self._settings.ring, self._state().shards)

    async def claim(self, key: str, value: str, ttl: float) -> str | None:
        return await self._claims().claim(key, value, ttl)

    async def set_claim(self, key: str, value: str, ttl: float) -> None:
        await self._claims().set_claim(key, value, ttl)

    async def drop_claim(self, key: str) -> None:
        await self._claims().drop_claim(key)

    # -- housekeeping -----------------------------------------------------------------

    async def flush(self) -> None:
        """Delete this layer's keys (``SCAN`` + ``UNLINK`` on every node) and locally
        buffered messages; other prefixes on the same servers are untouched, ``P:x``'s
        too when this one is ``P`` (``KeyLayout.scan_pattern``)."""
        state = self._state()
        pattern = state.layout.scan_pattern()
        await asyncio.gather(*(shard.unlink_matching(pattern) for shard in state.shards))
        with self._lock:
            states = list(self._states.values())
        for other in states:
            if other is state:
                other.clear_local()
            elif not other.loop.is_closed():
                other.loop.call_soon_threadsafe(other.clear_local)

    async def close(self) -> None:
        """Close this event loop's connections and receive loops (other loops keep theirs);
        the layer may be used again after."""
        loop = asyncio.get_running_loop()
        with self._lock:
            state = self._states.pop(loop, None)
            if state is not None:
                self._forget(state)
        if state is not None:
            await state.close()

    def reachable(self) -> bool:
        """No server this loop talks to has a lost connection not yet re-made."""
        try:
            state = self._states.get(asyncio.get_running_loop())
        except RuntimeError:
            return True
        if state is None:
            return True
        return all(node.reachable for shard in state.shards for node in shard.known_nodes())

    def describe(self) -> dict[str, Any]:
        """Settings and counters, plus what this process holds locally: receive loops
        running and messages buffered for its own ``!`` channels (the queues themselves
        live in Redis; reading them would take a round trip this sync call cannot make)."""
        with self._lock:
            states = list(self._states.values())
        return {
            **super().describe(),
            "hosts": self.hosts,
            "prefix": self.prefix,
            "cluster": self._settings.cluster,
            "reachable": self.reachable(),
            "receive_loops": sum(
                len(s.inboxes) + sum(not r.idle for r in list(s.readers.values())) for s in states
            ),
            "buffered": {k: v for s in states for k, v in s.local.depths().items()},
        }

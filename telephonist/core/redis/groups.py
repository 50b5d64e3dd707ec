"""Groups: membership sorted sets and the server-side fan-out.

Membership of ``channel`` in ``group`` is ``ZADD P:g:{group} <expires_ms> <channel>``;
a member lapses when its score passes (``group_expiry``), and every read or send first
drops lapsed members, so nothing polls for them.

Where the set lives decides how many round trips a group send costs:

- On standalone shards, membership is stored on the shard of the *member* (each shard
  holds the part of the group whose channels live there). A group send is then one
  ``GROUP_SEND`` script call per shard, all in parallel, each reading its part of the
  sets and pushing to its own members: one envelope per receiving process inbox (naming
  that process's member channels, fanned out locally by its inbox reader) and one per
  normal channel, skipping and counting members at capacity.
- On Redis Cluster a script may only touch keys of one slot, so the set lives in the
  group's slot and a send takes two steps: ``READ_GROUPS`` on the group's slot, then one
  ``FANOUT`` per slot of the members (all pipelined per node). This split is the one
  unavoidable cross-slot cost, and it is per slot, not per member.

Capacity overrides are globs translated to Lua patterns so the one-call path can apply
them server-side; a regex override (which Lua cannot evaluate) makes the layer use the
two-step path, where capacities are computed here.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import Any

from ..capacity import CapacityRules, Pattern
from ..stats import LayerStats
from .keys import KeyLayout, now_ms, process_tag
from .ring import HashRing
from .scripts import FANOUT, GROUP_SEND, READ_GROUPS
from .shard import Routed, Shard

__all__ = ["Groups", "glob_to_lua", "tag_of"]

_MAX_PER_CALL = 1000  # members per fan-out call: bounds how long one call blocks Redis
_LUA_MAGIC = set("^$()%.[]*+-?")


def tag_of(channel: str) -> str:
    """The hash tag (and ring key) of a channel: its process for ``!`` channels."""
    return process_tag(channel) if "!" in channel else channel


def glob_to_lua(glob: str) -> str | None:
    """Translate an ``fnmatch`` glob to an anchored Lua pattern; ``None`` if it has a
    construct we do not translate."""
    out = ["^"]
    i = 0
    while i < len(glob):
        ch = glob[i]
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch == "[":
            end = glob.find("]", i + 2)
            if end < 0:
                out.append("%[")
            else:
                body = glob[i + 1 : end]
                negate = body.startswith("!")
                body = body[1:] if negate else body
                if not body or "%" in body or "]" in body:
                    return None
                out.append("[" + ("^" if negate else "") + body + "]")
                i = end
        else:
            out.append("%" + ch if ch in _LUA_MAGIC else ch)
        i += 1
    return "".join(out) + "$"


def lua_rules(overrides: dict[Pattern, int]) -> list[Any] | None:
    """``[pattern, capacity, ...]`` for ``GROUP_SEND``, or ``None`` if any override is a
    regex or an untranslatable glob."""
    flat: list[Any] = []
    for pattern, capacity in overrides.items():
        if isinstance(pattern, re.Pattern):
            return None
        translated = glob_to_lua(pattern)
        if translated is None:
            return None
        flat += [translated, capacity]
    return flat


class Groups:
    def __init__(
        self,
        layout: KeyLayout,
        ring: HashRing,
        capacities: CapacityRules,
        overrides: dict[Pattern, int],
        stats: LayerStats,
        group_expiry_ms: int,
        ttl_ms: int,
    ) -> None:
        self._layout = layout
        self._ring = ring
        self._capacities = capacities
        self._rules = lua_rules(overrides)
        self._stats = stats
        self._group_expiry_ms = group_expiry_ms
        self._ttl_ms = ttl_ms

    def _home(self, shards: Sequence[Shard], channel: str) -> Shard:
        return shards[self._ring.index(tag_of(channel))]

    async def add(self, shards: Sequence[Shard], group: str, channel: str) -> None:
        key = self._layout.group(group)
        now = now_ms()
        await _check(
            self._home(shards, channel).execute(
                [
                    (key, ("ZADD", key, now + self._group_expiry_ms, channel)),
                    (key, ("ZREMRANGEBYSCORE", key, "-inf", now)),  # keep sets bounded
                    (key, ("PEXPIRE", key, self._group_expiry_ms)),
                ]
            )
        )

    async def discard(self, shards: Sequence[Shard], group: str, channel: str) -> None:
        key = self._layout.group(group)
        await _check(self._home(shards, channel).execute([(key, ("ZREM", key, channel))]))

    async def channels(self, shards: Sequence[Shard], group: str) -> list[str]:
        key = self._layout.group(group)
        now = now_ms()
        replies = await asyncio.gather(
            *(s.execute([(key, ("ZRANGEBYSCORE", key, f"({now}", "+inf"))]) for s in shards)
        )
        members: dict[str, None] = {}
        for [reply] in replies:
            if isinstance(reply, Exception):
                raise reply
            members.update(dict.fromkeys(m.decode() for m in reply))
        return list(members)

    async def send(
        self, shards: Sequence[Shard], groups: Sequence[str], payload: bytes, expires_ms: int
    ) -> None:
        keys = list(dict.fromkeys(self._layout.group(g) for g in groups))
        if not keys:
            return
        now = now_ms()
        if self._rules is not None and not any(s.cluster for s in shards):
            argv = [now, expires_ms, self._ttl_ms, payload, self._layout.prefix]
            argv += [self._capacities.default, *self._rules]
            command = ("EVALSHA", GROUP_SEND.sha, len(keys), *keys, *argv)
            results = await asyncio.gather(*(s.execute([(keys[0], command)]) for s in shards))
            self._count([reply for [reply] in results])
            return
        await self._send_in_two_steps(shards, keys, payload, expires_ms, now)

    async def _send_in_two_steps(
        self, shards: Sequence[Shard], keys: list[str], payload: bytes, expires_ms: int, now: int
    ) -> None:
        reads = [(k, ("EVALSHA", READ_GROUPS.sha, 1, k, now)) for k in keys]
        answers = await asyncio.gather(*(s.execute(reads) for s in shards))
        members: dict[str, None] = {}
        for replies in answers:
            for reply in replies:
                if isinstance(reply, Exception):
                    raise reply
                members.update(dict.fromkeys(m.decode() for m in reply))
        buckets: dict[tuple[int, int], list[str]] = {}
        for member in members:
            tag = tag_of(member)
            index = self._ring.index(tag)
            buckets.setdefault((index, shards[index].slot(tag)), []).append(member)
        calls: dict[int, list[Routed]] = {}
        for (index, _), bucket in buckets.items():
            for start in range(0, len(bucket), _MAX_PER_CALL):
                chunk = bucket[start : start + _MAX_PER_CALL]
                calls.setdefault(index, []).append(self._fan_out(chunk, payload, expires_ms, now))
        results = await asyncio.gather(*(shards[i].execute(c) for i, c in calls.items()))
        self._count([reply for replies in results for reply in replies])

    def _fan_out(self, members: list[str], payload: bytes, expires_ms: int, now: int) -> Routed:
        layout = self._layout
        keys: dict[str, None] = {}
        argv: list[Any] = [now, expires_ms, self._ttl_ms, payload, layout.prefix]
        for member in members:
            if "!" in member:
                tag = process_tag(member)
                keys.update({layout.inbox(tag): None, layout.counts(tag): None})
            else:
                keys[layout.channel(member)] = None
            argv += [member, self._capacities.for_channel(member)]
        first = next(iter(keys))
        return first, ("EVALSHA", FANOUT.sha, len(keys), *keys, *argv)

    def _count(self, replies: list[Any]) -> None:
        full = trimmed = 0
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
            full += int(reply[0])
            trimmed += int(reply[1])
        if full:
            self._stats.incr("full", full)
        if trimmed:
            self._stats.incr("expired", trimmed)


async def _check(call: Any) -> None:
    for reply in await call:
        if isinstance(reply, Exception):
            raise reply

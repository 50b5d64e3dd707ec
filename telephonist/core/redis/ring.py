"""Consistent hashing of hash tags (channel, process or group names) over shards.

Why consistent hashing rather than ``crc32(key) % n`` (channels_redis): adding a host to
``hosts`` then moves only about ``1/n`` of the channels instead of nearly all of them,
so a rolling config change strands few queued messages; and a shard's place on the ring
comes from its identity (its address), not its position in the list, so processes that
list the same hosts in another order still agree on where every channel lives.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Sequence
from functools import lru_cache

__all__ = ["HashRing"]

_POINTS_PER_SHARD = 160  # enough virtual nodes for a spread within a few percent


def _point(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


class HashRing:
    """``HashRing(["redis://a:6379", "redis://b:6379"]).index(tag)`` -> owning shard's index.

    The ring holds indexes, not connections: it is shared by every event loop's
    connection state (each loop has its own shard objects, in the same order).
    """

    def __init__(self, identities: Sequence[str]) -> None:
        if not identities:
            raise ValueError("a hash ring needs at least one shard")
        self.size = len(identities)
        points = sorted(
            (_point(f"{identity}#{i}"), index)
            for index, identity in enumerate(identities)
            for i in range(_POINTS_PER_SHARD)
        )
        self._keys = [p for p, _ in points]
        self._owners = [index for _, index in points]
        self._cached = lru_cache(maxsize=16384)(self._lookup)

    def _lookup(self, tag: str) -> int:
        i = bisect.bisect(self._keys, _point(tag)) % len(self._keys)
        return self._owners[i]

    def index(self, tag: str) -> int:
        if self.size == 1:
            return 0  # one host: skip hashing on the hot path
        return self._cached(tag)

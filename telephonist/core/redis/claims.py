"""Claims on Redis (``core/claims.py``): ``SET key value NX PX ttl`` on the layer's servers.

A claim is the plain string key ``<prefix>:k:{<key>}``, written with ``SET ... NX PX``
so that exactly one of any number of concurrent claimers, in any process, sets it; the
key expires by itself. ``claim`` sends ``SET NX PX`` and ``GET`` together, in order,
in one round trip on the key's node: when the ``SET`` did nothing, the ``GET`` says who
holds the claim. The two are not one atomic step, and need not be: the ``SET`` alone
decides, and a key that vanished between them is reported as held (``""``), the safe
answer. Plain commands, not a script, so any Redis (and Valkey, and Redis < 6.2, which
lacks ``SET ... NX GET``) serves them. The key's hash tag is the claim's own key, so a
cluster spreads claims over its slots like channels.
"""

from __future__ import annotations

from typing import Any

from ..claims import check_claim
from .keys import KeyLayout
from .ring import HashRing
from .shard import Shard

__all__ = ["RedisClaims"]


def claim_key(layout: KeyLayout, key: str) -> str:
    return f"{layout.prefix}:k:{{{key}}}"


class RedisClaims:
    """The claims of one layer on the shards of one event loop."""

    def __init__(self, layout: KeyLayout, ring: HashRing, shards: list[Shard]) -> None:
        self._layout = layout
        self._ring = ring
        self._shards = shards

    def _shard(self, key: str) -> Shard:
        return self._shards[self._ring.index(key)]

    async def _run(self, key: str, *commands: tuple[Any, ...]) -> list[Any]:
        full = claim_key(self._layout, key)
        replies = await self._shard(key).execute([(full, (c[0], full, *c[1:])) for c in commands])
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return replies

    async def claim(self, key: str, value: str, ttl: float) -> str | None:
        check_claim(key, value, ttl)
        was_set, held = await self._run(key, ("SET", value, "NX", "PX", _ms(ttl)), ("GET",))
        if was_set is not None:
            return None
        return held.decode() if isinstance(held, bytes) else ""

    async def set_claim(self, key: str, value: str, ttl: float) -> None:
        check_claim(key, value, ttl)
        await self._run(key, ("SET", value, "PX", _ms(ttl)))

    async def drop_claim(self, key: str) -> None:
        await self._run(key, ("DEL",))


def _ms(ttl: float) -> int:
    return max(1, int(ttl * 1000))

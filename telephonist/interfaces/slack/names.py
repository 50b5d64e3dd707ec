"""``NameCache``: display names of users and channels, for the chat keys ``user`` and ``room``.

Events carry ids (``U123``, ``C456``); people read names. Names come from ``users.info``
and ``conversations.info`` through the workspace's outbox (so the lookups honour those
methods' tiers and 429s), and are remembered per workspace in one bounded LRU table
with a time to live (``name_cache_size``, ``name_cache_ttl``). Lookups of the same id
are shared while one is in flight. :meth:`resolve` waits at most ``within`` seconds:
an event is never held past Slack's acknowledgement deadline for a name, and a name
that arrives later is cached for the next event. Failures (an unknown id, Slack
unreachable) are remembered briefly as "no name" so a broken id is not asked for on
every event; the caller then shows the id.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from .mapping import Lookups, Names
from .outbox import Outbox

__all__ = ["NameCache", "channel_name", "user_name"]

_NEGATIVE_TTL = 60.0  # seconds a failed lookup is not repeated


def user_name(user: dict[str, Any]) -> str | None:
    """What Slack shows: the display name, else the real name, else the handle."""
    found = user.get("profile")
    profile: dict[str, Any] = found if isinstance(found, dict) else {}
    for value in (profile.get("display_name"), profile.get("real_name"), user.get("real_name"),
                  user.get("name")):  # fmt: skip
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def channel_name(channel: dict[str, Any]) -> str | None:
    name = channel.get("name")
    return name if isinstance(name, str) and name else None


class NameCache:
    def __init__(self, size: int, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.size = size
        self.ttl = ttl
        self._clock = clock
        self._names: OrderedDict[tuple[str, str], tuple[str | None, float]] = OrderedDict()
        self._pending: dict[tuple[str, str], asyncio.Future[dict[str, Any]]] = {}

    def __len__(self) -> int:
        return len(self._names)

    def get(self, team: str, key: str) -> tuple[bool, str | None]:
        """``(known, name)``: known is False when the id must be looked up."""
        entry = self._names.get((team, key))
        if entry is None or entry[1] <= self._clock():
            return False, None
        self._names.move_to_end((team, key))
        return True, entry[0]

    def put(self, team: str, key: str, name: str | None, ttl: float | None = None) -> None:
        self._names[(team, key)] = (name, self._clock() + (self.ttl if ttl is None else ttl))
        self._names.move_to_end((team, key))
        while len(self._names) > self.size:
            self._names.popitem(last=False)

    def user_id_of(self, team: str, name: str) -> str | None:
        """The id of the user of ``team`` last seen called ``name`` (a private reply's
        ``to``); a scan of the bounded table, newest first."""
        for (where, key), (known, _) in reversed(self._names.items()):
            if where == team and key.startswith("u:") and known == name:
                return key[2:]
        return None

    def _lookup(self, outbox: Outbox, team: str, kind: str, ident: str
                ) -> asyncio.Future[dict[str, Any]] | None:  # fmt: skip
        key = (team, f"{kind}:{ident}")
        pending = self._pending.get(key)
        if pending is not None:
            return pending
        method, arg = ("users.info", "user") if kind == "u" else ("conversations.info", "channel")
        try:
            future = outbox.submit(method, {arg: ident}, answer=True)
        except OverflowError:
            return None
        assert future is not None
        self._pending[key] = future
        future.add_done_callback(lambda done: self._settle(team, kind, ident, done))
        return future

    def _settle(self, team: str, kind: str, ident: str, future: asyncio.Future[dict[str, Any]]
                ) -> None:  # fmt: skip
        self._pending.pop((team, f"{kind}:{ident}"), None)
        if future.cancelled() or future.exception() is not None:
            self.put(team, f"{kind}:{ident}", None, _NEGATIVE_TTL)
            return
        answer = future.result()
        if kind == "u":
            user = answer.get("user")
            name = user_name(user) if isinstance(user, dict) else None
        else:
            channel = answer.get("channel")
            name = channel_name(channel) if isinstance(channel, dict) else None
        self.put(team, f"{kind}:{ident}", name)

    async def resolve(self, wanted: Lookups, outbox: Outbox | None, within: float) -> Names:
        """The names of ``wanted`` known within ``within`` seconds."""
        users: dict[str, str] = {}
        channels: dict[str, str] = {}
        waits: list[asyncio.Future[dict[str, Any]]] = []
        for kind, ids in (("u", wanted.users), ("c", wanted.channels)):
            for ident in ids:
                known, name = self.get(wanted.team, f"{kind}:{ident}")
                if not known and outbox is not None:
                    future = self._lookup(outbox, wanted.team, kind, ident)
                    if future is not None:
                        waits.append(future)
        if waits:
            with contextlib.suppress(TimeoutError):
                lookups = asyncio.gather(*waits, return_exceptions=True)
                await asyncio.wait_for(asyncio.shield(lookups), within)
        for kind, ids, out in (("u", wanted.users, users), ("c", wanted.channels, channels)):
            for ident in ids:
                _, name = self.get(wanted.team, f"{kind}:{ident}")
                if name:
                    out[ident] = name
        return Names(users, channels)

"""``Installations``: the bot token of a workspace that installed the app through OAuth.

The tokens are in an installation store (``stores.py``; slack-sdk's
``AsyncInstallationStore``), which may be a file or a database shared by several
interface servers: an install finished on one server is found by the others on their
first event from that workspace. Asking the store for every event would put a query
(or a file read) in front of every acknowledgement, so answers are cached:

* a token found is used for ``token_cache_ttl`` seconds, then asked for again (a
  re-install or an uninstall elsewhere is seen within that time);
* "not installed" is remembered for at most :data:`NEGATIVE_TTL` seconds, so a burst
  of events from an unknown workspace costs one lookup, and an install elsewhere is
  seen soon after;
* at most ``token_cache_size`` workspaces are cached (least recently used go first);
* concurrent lookups for one workspace share one store call, bounded by
  ``store_timeout``. A store that fails or is too slow is logged (rate-limited),
  counted ``store_errors``, and taken as "not known" for :data:`NEGATIVE_TTL` seconds.

Team and enterprise ids come from Slack's (verified) payloads; anything not shaped
like one is never looked up (the file store builds paths from them).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore

from .logs import Throttled
from .mapping import Bot

__all__ = ["NEGATIVE_TTL", "Installations", "Installed", "installation_of"]

NEGATIVE_TTL = 10.0  # seconds "not installed" (or "store failing") is believed
_ID = re.compile(r"[A-Za-z0-9]{1,64}")


@dataclass(frozen=True)
class Installed:
    token: str
    bot: Bot


def installation_of(payload: dict[str, Any]) -> tuple[str | None, bool]:
    """``(enterprise_id, is_enterprise_install)`` of an event, command or interaction."""
    enterprise = payload.get("enterprise_id")
    if not isinstance(enterprise, str):
        nested = payload.get("enterprise")
        enterprise = nested.get("id") if isinstance(nested, dict) else None
    org = payload.get("is_enterprise_install")
    if org is None:
        authorizations = payload.get("authorizations")
        if isinstance(authorizations, list) and authorizations:
            first = authorizations[0]
            org = first.get("is_enterprise_install") if isinstance(first, dict) else None
    org = org in (True, "true")
    return (enterprise if isinstance(enterprise, str) and enterprise else None), org


class Installations:
    def __init__(
        self, store: AsyncInstallationStore, ttl: float, size: int, timeout: float,
        count: Callable[[str, int], None], throttled: Throttled,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self.store = store
        self.ttl = ttl
        self.size = size
        self.timeout = timeout
        self._count = count
        self._log = throttled
        self._clock = clock
        self._cache: OrderedDict[str, tuple[Installed | None, float]] = OrderedDict()
        self._asking: dict[str, asyncio.Task[Installed | None]] = {}

    def cached(self, team: str) -> Installed | None:
        """What is known about ``team`` (even if due for a refresh), without I/O."""
        entry = self._cache.get(team)
        return entry[0] if entry is not None else None

    def _fresh(self, team: str) -> tuple[bool, Installed | None]:
        entry = self._cache.get(team)
        if entry is None or entry[1] <= self._clock():
            return False, None
        self._cache.move_to_end(team)
        return True, entry[0]

    def put(self, team: str, found: Installed | None, ttl: float | None = None) -> None:
        ttl = self.ttl if ttl is None else ttl
        self._cache[team] = (found, self._clock() + ttl)
        self._cache.move_to_end(team)
        while len(self._cache) > self.size:
            self._cache.popitem(last=False)

    def forget(self, team: str) -> None:
        self._cache.pop(team, None)

    async def find(self, team: str, enterprise: str | None = None, org: bool = False
                   ) -> Installed | None:  # fmt: skip
        """The installation serving ``team`` (from the cache, or the store)."""
        known, found = self._fresh(team)
        if known:
            return found
        if not _ID.fullmatch(team) or (enterprise is not None and not _ID.fullmatch(enterprise)):
            return None
        task = self._asking.get(team)
        if task is None:
            task = self._asking[team] = asyncio.ensure_future(self._ask(team, enterprise, org))
            task.add_done_callback(lambda _: self._asking.pop(team, None))
        return await asyncio.shield(task)

    async def _ask(self, team: str, enterprise: str | None, org: bool) -> Installed | None:
        try:
            bot = await asyncio.wait_for(
                self.store.async_find_bot(enterprise_id=enterprise, team_id=team,
                                          is_enterprise_install=org),
                self.timeout,
            )  # fmt: skip
        except Exception as exc:  # any store's failure: its own exceptions
            self._count("store_errors", 1)
            self._log(logging.WARNING, "store_find", "slack: installation store lookup failed "
                      "for team %s: %r", team, exc)  # fmt: skip
            self.put(team, self.cached(team), min(self.ttl, NEGATIVE_TTL))
            return self.cached(team)
        if bot is None or not bot.bot_token:
            self.put(team, None, min(self.ttl, NEGATIVE_TTL))
            return None
        found = Installed(bot.bot_token, Bot(bot.bot_user_id or "", bot.bot_id))
        self.put(team, found)
        return found

    async def uninstalled(self, team: str, enterprise: str | None) -> None:
        """Slack said the app is gone from ``team`` (``app_uninstalled``, or the bot
        token revoked): its token is dead, here and in the store."""
        self.put(team, None, min(self.ttl, NEGATIVE_TTL))
        if not _ID.fullmatch(team) or (enterprise is not None and not _ID.fullmatch(enterprise)):
            return
        try:
            await asyncio.wait_for(
                self.store.async_delete_all(enterprise_id=enterprise, team_id=team), self.timeout
            )
        except Exception as exc:
            self._count("store_errors", 1)
            self._log(logging.WARNING, "store_delete", "slack: could not delete the "
                      "installation of team %s: %r", team, exc)  # fmt: skip

    async def stop(self) -> None:
        for task in list(self._asking.values()):
            task.cancel()
        await asyncio.gather(*self._asking.values(), return_exceptions=True)

    def __len__(self) -> int:
        return len(self._cache)

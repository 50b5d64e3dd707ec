"""``Installations``: workspaces' tokens from an installation store (slack-sdk's file
store, in threads), cached with bounded lifetimes, one store call per workspace at a
time, a failing store neither fatal nor forgetting what it knew."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from slack_sdk.oauth.installation_store import FileInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation

from telephonist.interfaces.slack.installations import (
    NEGATIVE_TTL,
    Installations,
    installation_of,
)
from telephonist.interfaces.slack.logs import Throttled
from telephonist.interfaces.slack.stores import InThreads


class Counted(InThreads):
    """The real file store, counting lookups; ``failing`` makes them raise."""

    def __init__(self, base: Path) -> None:
        super().__init__(FileInstallationStore(base_dir=str(base), client_id="c"))
        self.lookups = 0
        self.failing = False

    async def async_find_bot(self, **kwargs: Any) -> Bot | None:
        self.lookups += 1
        if self.failing:
            raise OSError("disk gone")
        return await super().async_find_bot(**kwargs)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make(tmp_path: Path) -> tuple[Installations, Counted, Clock, list[str]]:
    store, clock, counted = Counted(tmp_path), Clock(), []
    cache = Installations(store, 300.0, 2, 5.0, lambda name, n: counted.append(name),
                          Throttled(logging.getLogger("test")), clock)  # fmt: skip
    return cache, store, clock, counted


def install(store: Counted, team: str, token: str) -> None:
    store.store.save(Installation(team_id=team, bot_token=token, bot_id="B1",
                                  bot_user_id="U0BOT", user_id="U1"))  # fmt: skip


async def test_tokens_cached_refreshed_and_shared(tmp_path: Path) -> None:
    cache, store, clock, _ = make(tmp_path)
    install(store, "T1", "xoxb-1")
    found = await asyncio.gather(*(cache.find("T1") for _ in range(5)))
    assert {f.token if f else None for f in found} == {"xoxb-1"}
    assert found[0] is not None
    assert (found[0].bot.user_id, found[0].bot.bot_id) == ("U0BOT", "B1")
    assert store.lookups == 1  # five events, one lookup
    install(store, "T1", "xoxb-2")  # installed again elsewhere
    assert (await cache.find("T1")).token == "xoxb-1"  # type: ignore[union-attr]
    clock.now += 301
    assert (await cache.find("T1")).token == "xoxb-2"  # type: ignore[union-attr]
    assert store.lookups == 2


async def test_unknown_workspaces_are_asked_again_soon(tmp_path: Path) -> None:
    cache, store, clock, _ = make(tmp_path)
    assert await cache.find("T9") is None
    install(store, "T9", "xoxb-9")
    assert await cache.find("T9") is None  # "not installed" believed a little while
    clock.now += NEGATIVE_TTL + 1
    assert (await cache.find("T9")).token == "xoxb-9"  # type: ignore[union-attr]
    for bad in ("../../x", "T 1", "", "T" * 65):
        assert await cache.find(bad) is None
    assert await cache.find("T1", enterprise="../E") is None
    assert store.lookups == 2  # nothing shaped otherwise than an id is looked up


async def test_a_failing_store_keeps_what_was_known(tmp_path: Path) -> None:
    cache, store, clock, counted = make(tmp_path)
    install(store, "T1", "xoxb-1")
    assert await cache.find("T1") is not None
    store.failing = True
    clock.now += 301
    assert (await cache.find("T1")).token == "xoxb-1"  # type: ignore[union-attr]
    assert await cache.find("T2") is None
    assert counted == ["store_errors", "store_errors"]
    await cache.find("T2")  # not asked again at once
    assert counted == ["store_errors", "store_errors"]


async def test_bounded_and_uninstalled(tmp_path: Path) -> None:
    cache, store, _, _ = make(tmp_path)
    for team in ("T1", "T2", "T3"):
        install(store, team, f"xoxb-{team}")
        await cache.find(team)
    assert len(cache) == 2  # token_cache_size
    await cache.uninstalled("T3", None)
    assert cache.cached("T3") is None
    assert store.store.find_bot(enterprise_id=None, team_id="T3") is None


def test_installation_of_payloads() -> None:
    event = {"team_id": "T1", "enterprise_id": "E1",
             "authorizations": [{"is_enterprise_install": True}]}  # fmt: skip
    assert installation_of(event) == ("E1", True)
    command = {"team_id": "T1", "enterprise_id": "", "is_enterprise_install": "false"}
    assert installation_of(command) == (None, False)
    interaction = {"team": {"id": "T1"}, "enterprise": {"id": "E2"}, "is_enterprise_install": True}
    assert installation_of(interaction) == ("E2", True)
    assert installation_of({}) == (None, False)

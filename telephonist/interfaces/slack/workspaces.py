"""``Workspaces``: which token serves which team, who the bot is there, and its outbox.

A token per team: ``teams.<id>.bot_token`` where configured, else ``bot_token`` (the
usual single-workspace app, and Enterprise Grid's org-wide token). At start every
configured token is checked with ``auth.test``, which also says who the bot is
(``user_id``, ``bot_id``: its own messages are never delivered). A token Slack refuses
(``invalid_auth``, ``token_revoked``, ...) fails the start with that reason; Slack being
unreachable does not: the identity is asked again on the first event of that team.
One aiohttp session serves every client (slack-sdk would otherwise open a connection
per call).

Workspaces that installed the app through OAuth have their token in the installation
store (``installations.py``): :meth:`resolve` asks it (cached) for a team with no
configured token before that team's event is handled or its reply sent; their bot
identity comes with the installation, so no ``auth.test`` is needed. Which token serves
a team: ``teams.<id>.bot_token``, else its installation, else ``bot_token``. A team
installed again with a new token keeps its outbox (queue, pacing) with the new token.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from .config import SlackConfig
from .installations import Installations, Installed
from .logs import Throttled
from .mapping import Bot
from .outbox import Outbox

__all__ = ["TokenRefused", "Workspaces"]

log = logging.getLogger("telephonist.interfaces.slack")


class TokenRefused(Exception):
    """Slack refused a configured token (the start fails with this)."""


class Workspaces:
    def __init__(
        self, config: SlackConfig, count: Callable[[str, int], None], throttled: Throttled,
        installations: Installations | None = None,
    ) -> None:  # fmt: skip
        self.config = config
        self.installations = installations
        self._count = count
        self._throttled = throttled
        self.session: aiohttp.ClientSession | None = None
        self._tokens: dict[str, str] = {
            t: c.bot_token.get_secret_value() for t, c in config.teams.items()
        }
        self._default = config.bot_token.get_secret_value() if config.bot_token else None
        self._bots: dict[str, Bot] = {}
        self._outboxes: dict[str, Outbox] = {}
        self._asking: dict[str, asyncio.Task[Bot | None]] = {}

    async def start(self) -> None:
        self.session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.config.api_timeout)
        )
        checks: list[tuple[str | None, str]] = [(None, self._default)] if self._default else []
        checks += list(self._tokens.items())
        for team, token in checks:
            bot = await self._identify(token, fatal=True)
            if bot is not None:
                found, known = bot
                self._bots[found] = known
                if team is None and found not in self._tokens:
                    self._tokens[found] = token  # the default token's own team
                elif team is not None and found != team:
                    raise TokenRefused(f"teams.{team}.bot_token belongs to team {found}")

    def client(self, token: str) -> AsyncWebClient:
        return AsyncWebClient(token, base_url=self.config.api_url, session=self.session)

    async def _identify(self, token: str, fatal: bool) -> tuple[str, Bot] | None:
        try:
            answer = await asyncio.wait_for(self.client(token).auth_test(), self.config.api_timeout)
        except SlackApiError as exc:
            code = exc.response.get("error") or f"http_{exc.response.status_code}"
            if fatal and exc.response.status_code != 429:
                raise TokenRefused(f"Slack refused a bot token: {code}") from None
            self._throttled(logging.WARNING, "auth.test", "slack: auth.test failed: %s", code)
            return None
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            why = "slack: auth.test did not complete (%r); will ask again"
            self._throttled(logging.WARNING, "auth.test", why, exc)
            return None
        data: dict[str, Any] = dict(answer.data) if isinstance(answer.data, dict) else {}
        bot_id = data.get("bot_id")
        bot = Bot(str(data.get("user_id", "")), bot_id if isinstance(bot_id, str) else None)
        return str(data.get("team_id", "")), bot

    def known_bots(self) -> dict[str, Bot]:
        """Team -> the bot there, for the teams whose ``auth.test`` answered at start."""
        return dict(self._bots)

    def add_team(self, team: str, token: str) -> None:
        """A token for ``team`` given at run time."""
        self._tokens[team] = token
        self._bots.pop(team, None)

    def installed(self, team: str, found: Installed) -> None:
        """``team`` installed the app (OAuth) just now, in this process."""
        if self.installations is not None:
            self.installations.put(team, found)
        self._retoken(team)

    async def resolve(self, team: str, enterprise: str | None = None, org: bool = False) -> None:
        """Know ``team``'s token before using it: a team without a configured token is
        looked up in the installation store (cached)."""
        if self.installations is None or not team or team in self._tokens:
            return
        await self.installations.find(team, enterprise, org)
        self._retoken(team)

    def _installed(self, team: str) -> Installed | None:
        return self.installations.cached(team) if self.installations is not None else None

    def _retoken(self, team: str) -> None:
        outbox = self._outboxes.get(team)
        token = self.token(team)
        if outbox is not None and token is not None and outbox.client.token != token:
            outbox.client.token = token  # re-installed: same queue and pacing, new token
            self._bots.pop(team, None)

    def token(self, team: str) -> str | None:
        installed = None if team in self._tokens else self._installed(team)
        return self._tokens.get(team) or (installed.token if installed else None) or self._default

    def outbox(self, team: str) -> Outbox | None:
        outbox = self._outboxes.get(team)
        if outbox is None:
            token = self.token(team)
            if token is None:
                return None
            outbox = Outbox(team, self.client(token), self.config, self._count, self._throttled)
            outbox.start()
            self._outboxes[team] = outbox
        return outbox

    async def bot(self, team: str) -> Bot | None:
        """Who the bot is in ``team`` (``auth.test``, asked once and remembered)."""
        known = self._bots.get(team)
        if known is not None:
            return known
        installed = None if team in self._tokens else self._installed(team)
        if installed is not None and installed.bot.user_id:
            return installed.bot
        token = self.token(team)
        if token is None:
            return None
        task = self._asking.get(team)
        if task is None:
            task = self._asking[team] = asyncio.ensure_future(self._ask(team, token))
            task.add_done_callback(lambda _: self._asking.pop(team, None))
        return await asyncio.shield(task)

    async def _ask(self, team: str, token: str) -> Bot | None:
        found = await self._identify(token, fatal=False)
        if found is None:
            return None
        self._bots[team] = found[1]
        return found[1]

    async def stop(self, drain_timeout: float) -> None:
        await asyncio.gather(*(o.stop(drain_timeout) for o in self._outboxes.values()))
        self._outboxes.clear()
        for task in list(self._asking.values()):
            task.cancel()
        if self.installations is not None:
            await self.installations.stop()
        if self.session is not None:
            await self.session.close()
            self.session = None

    def status(self) -> dict[str, Any]:
        return {team: {"bot_user": bot.user_id} for team, bot in self._bots.items()} | {
            team: {**({"bot_user": self._bots[team].user_id} if team in self._bots else {}),
                   "outbox": outbox.status()} for team, outbox in self._outboxes.items()
        }  # fmt: skip

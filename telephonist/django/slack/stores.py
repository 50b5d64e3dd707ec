"""slack-sdk's ``AsyncInstallationStore`` and ``AsyncOAuthStateStore`` on Django's database.

The Slack interface calls these from the event loop; each call's queries run as one
piece of synchronous ORM code in Django's thread (``telephonist.django.db.db_call``,
which also closes broken or too old connections around it, as Django does around a
request). Lookups follow slack-sdk's own stores: ``is_enterprise_install`` looks up the
organisation's installation (no team); an installation asked for a user also carries
the workspace's latest bot token. A state is single-use: consuming deletes its row, and
only a row that was there and not expired is a valid state, so two servers racing on
one redirect cannot both accept it. Issuing deletes the expired rows first, and refuses
beyond ``limit`` states (``TooManyStates``).
"""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore

from ...interfaces.slack.stores import TooManyStates
from ..db import db_call
from .models import SlackBot, SlackInstallation, SlackOAuthState

__all__ = ["DjangoInstallationStore", "DjangoOAuthStateStore"]

log = logging.getLogger("telephonist.django.slack")


def _when(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _team(team_id: str | None, is_enterprise_install: bool | None) -> str | None:
    return None if is_enterprise_install else team_id


class DjangoInstallationStore(AsyncInstallationStore):
    def __init__(self, client_id: str) -> None:
        self.client_id = client_id

    @property
    def logger(self) -> logging.Logger:
        return log

    # -- sync halves, run by db_call --------------------------------------------------------

    def _key(self, enterprise_id: str | None, team_id: str | None) -> dict[str, Any]:
        return {"client_id": self.client_id, "enterprise_id": enterprise_id, "team_id": team_id}

    def _save_bot(self, bot: Bot) -> None:
        if not bot.bot_token:  # a user-only installation
            return
        key = self._key(bot.enterprise_id, _team(bot.team_id, bot.is_enterprise_install))
        with transaction.atomic():
            SlackBot.objects.filter(**key).delete()
            SlackBot.objects.create(**key, is_enterprise_install=bot.is_enterprise_install,
                                    installed_at=_when(bot.installed_at),
                                    data=dict(bot.__dict__))  # fmt: skip

    def _save(self, installation: Installation) -> None:
        team = _team(installation.team_id, installation.is_enterprise_install)
        key = {**self._key(installation.enterprise_id, team), "user_id": installation.user_id}
        with transaction.atomic():
            self._save_bot(installation.to_bot())
            SlackInstallation.objects.filter(**key).delete()
            SlackInstallation.objects.create(
                **key, is_enterprise_install=installation.is_enterprise_install,
                installed_at=_when(installation.installed_at), data=dict(installation.__dict__),
            )  # fmt: skip

    def _find_bot(self, enterprise_id: str | None, team_id: str | None, org: bool | None
                  ) -> Bot | None:  # fmt: skip
        row = (SlackBot.objects.filter(**self._key(enterprise_id, _team(team_id, org)))
               .order_by("-installed_at", "-id").first())  # fmt: skip
        return Bot(**row.data) if row is not None else None

    def _find_installation(
        self, enterprise_id: str | None, team_id: str | None, user_id: str | None,
        org: bool | None,
    ) -> Installation | None:  # fmt: skip
        rows = SlackInstallation.objects.filter(**self._key(enterprise_id, _team(team_id, org)))
        if user_id is not None:
            rows = rows.filter(user_id=user_id)
        row = rows.order_by("-installed_at", "-id").first()
        if row is None:
            return None
        installation = Installation(**row.data)
        bot = self._find_bot(enterprise_id, team_id, org)
        if bot is not None and bot.bot_token != installation.bot_token:
            # The workspace's bot was installed again since this installer's row.
            installation.bot_id, installation.bot_user_id = bot.bot_id, bot.bot_user_id
            installation.bot_token, installation.bot_scopes = bot.bot_token, bot.bot_scopes
            installation.bot_refresh_token = bot.bot_refresh_token
            installation.bot_token_expires_at = bot.bot_token_expires_at
        return installation

    def _delete_bot(self, enterprise_id: str | None, team_id: str | None) -> None:
        SlackBot.objects.filter(**self._key(enterprise_id, team_id)).delete()

    def _delete_installation(self, enterprise_id: str | None, team_id: str | None,
                             user_id: str | None) -> None:  # fmt: skip
        rows = SlackInstallation.objects.filter(**self._key(enterprise_id, team_id))
        if user_id is not None:
            rows = rows.filter(user_id=user_id)
        rows.delete()

    # -- AsyncInstallationStore ---------------------------------------------------------

    async def async_save(self, installation: Installation) -> None:
        await db_call(self._save, installation)

    async def async_save_bot(self, bot: Bot) -> None:
        await db_call(self._save_bot, bot)

    async def async_find_bot(self, *, enterprise_id: str | None, team_id: str | None,
                             is_enterprise_install: bool | None = False) -> Bot | None:  # fmt: skip
        return await db_call(self._find_bot, enterprise_id, team_id, is_enterprise_install)

    async def async_find_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:  # fmt: skip
        return await db_call(self._find_installation, enterprise_id, team_id, user_id,
                             is_enterprise_install)  # fmt: skip

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await db_call(self._delete_bot, enterprise_id, team_id)

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        await db_call(self._delete_installation, enterprise_id, team_id, user_id)


class DjangoOAuthStateStore(AsyncOAuthStateStore):
    def __init__(self, expiration_seconds: int, limit: int = 10_000) -> None:
        self.expiration_seconds = expiration_seconds
        self.limit = limit  # installs in progress at once

    @property
    def logger(self) -> logging.Logger:
        return log

    def _issue(self) -> str:
        now = datetime.now(UTC)
        SlackOAuthState.objects.filter(expires_at__lt=now).delete()  # the abandoned ones
        if SlackOAuthState.objects.count() >= self.limit:
            raise TooManyStates
        state = secrets.token_urlsafe(32)
        expires = now + timedelta(seconds=self.expiration_seconds)
        SlackOAuthState.objects.create(state=state, expires_at=expires)
        return state

    def _consume(self, state: str) -> bool:
        now = datetime.now(UTC)
        deleted, _ = SlackOAuthState.objects.filter(state=state, expires_at__gte=now).delete()
        if not deleted:
            SlackOAuthState.objects.filter(state=state).delete()  # expired: gone as well
        return bool(deleted)

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        return await db_call(self._issue)

    async def async_consume(self, state: str) -> bool:
        return await db_call(self._consume, state)

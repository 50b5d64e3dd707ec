"""Where OAuth installations and install states are kept: slack-sdk's store interfaces.

An app installed through OAuth (``oauth.py``) keeps each workspace's tokens in an
``AsyncInstallationStore`` and each install's ``state`` in an ``AsyncOAuthStateStore``,
slack-sdk's two interfaces, so any store written for them (slack-sdk's SQLAlchemy, S3
and SQLite stores, a project's own) plugs in. ``installation_store`` and ``state_store``
choose (:func:`open_stores`):

* ``"django"``: rows in Django's database (``telephonist.django.slack``, which must be
  in ``INSTALLED_APPS`` and migrated). Every interface server of a deployment shares
  them, so an install started on one server can finish on another;
* ``"file"``: slack-sdk's ``FileInstallationStore`` and ``FileOAuthStateStore`` under
  ``directory`` (created readable by this user only: it holds tokens). Their file I/O
  is blocking, so every call runs in a thread (:class:`InThreads`, :class:`StatesInThreads`).
  slack-sdk's file state store never deletes an abandoned state: here issuing one
  first deletes the expired ones and refuses (:class:`TooManyStates`) beyond
  ``max_pending_installs`` (the Django store does the same in its table);
* ``"auto"`` (the default): ``"django"`` when Django is set up with that app installed,
  else ``"file"``;
* a dotted path (``"myproject.slack:installation_store"``): a callable returning the
  store, called once at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from slack_sdk.oauth.installation_store import FileInstallationStore
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.state_store import FileOAuthStateStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore

from .config import OAuthConfig

__all__ = [
    "DJANGO_APP",
    "InThreads",
    "StatesInThreads",
    "TooManyStates",
    "django_in_use",
    "open_stores",
]

log = logging.getLogger("telephonist.interfaces.slack")

DJANGO_APP = "telephonist.django.slack"


class TooManyStates(Exception):
    """``max_pending_installs`` installs are in progress: no new state now."""


def django_in_use() -> bool:
    """Django is set up in this process (``manage.py`` commands, a Django project's
    ``telephonist run``) and its database holds installations."""
    apps_module = sys.modules.get("django.apps")
    if apps_module is None:
        return False
    apps = apps_module.apps
    return bool(apps.ready and apps.is_installed(DJANGO_APP))


class InThreads(AsyncInstallationStore):
    """A blocking ``InstallationStore`` (slack-sdk's file store) off the event loop."""

    def __init__(self, store: FileInstallationStore) -> None:
        self.store = store

    @property
    def logger(self) -> logging.Logger:
        return self.store.logger

    async def async_save(self, installation: Installation) -> None:
        await asyncio.to_thread(self.store.save, installation)

    async def async_save_bot(self, bot: Bot) -> None:
        await asyncio.to_thread(self.store.save_bot, bot)

    async def async_find_bot(self, *, enterprise_id: str | None, team_id: str | None,
                             is_enterprise_install: bool | None = False) -> Bot | None:  # fmt: skip
        found: Bot | None = await asyncio.to_thread(
            self.store.find_bot, enterprise_id=enterprise_id, team_id=team_id,
            is_enterprise_install=is_enterprise_install,
        )  # fmt: skip
        return found

    async def async_find_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:  # fmt: skip
        found: Installation | None = await asyncio.to_thread(
            self.store.find_installation, enterprise_id=enterprise_id, team_id=team_id,
            user_id=user_id, is_enterprise_install=is_enterprise_install,
        )  # fmt: skip
        return found

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await asyncio.to_thread(self.store.delete_bot, enterprise_id=enterprise_id, team_id=team_id)

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        await asyncio.to_thread(self.store.delete_installation, enterprise_id=enterprise_id,
                                team_id=team_id, user_id=user_id)  # fmt: skip


class StatesInThreads(AsyncOAuthStateStore):
    """slack-sdk's file state store off the event loop."""

    def __init__(self, store: FileOAuthStateStore, limit: int) -> None:
        self.store = store
        self.limit = limit

    @property
    def logger(self) -> logging.Logger:
        return self.store.logger

    def _issue(self) -> str:
        expired = time.time() - self.store.expiration_seconds
        live = 0
        with contextlib.suppress(FileNotFoundError), os.scandir(self.store.base_dir) as entries:
            for entry in entries:
                try:
                    if entry.stat().st_mtime < expired:
                        os.unlink(entry.path)
                    else:
                        live += 1
                except FileNotFoundError:
                    pass  # consumed meanwhile
        if live >= self.limit:
            raise TooManyStates
        state: str = self.store.issue()
        return state

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        return await asyncio.to_thread(self._issue)

    async def async_consume(self, state: str) -> bool:
        valid: bool = await asyncio.to_thread(self.store.consume, state)
        return valid


def _private_dir(path: Path) -> str:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)  # tokens: this user only
    return str(path)


def _factory(dotted: str) -> Any:
    module, _, name = dotted.replace(":", ".").rpartition(".")
    return getattr(importlib.import_module(module), name)()


def _choice(setting: str) -> str:
    if setting == "auto":
        return "django" if django_in_use() else "file"
    return setting


def open_stores(config: OAuthConfig) -> tuple[AsyncInstallationStore, AsyncOAuthStateStore, str]:
    """The installation and state stores ``config`` chooses, and a description of them
    for ``status`` (no secrets)."""
    kinds = (_choice(config.installation_store), _choice(config.state_store))
    if "django" in kinds:  # imported by name, like a plugin: only a Django project has it
        django_stores: Any = importlib.import_module(DJANGO_APP + ".stores")
    base = Path(config.directory)
    installations: AsyncInstallationStore
    if kinds[0] == "file":
        file_store = FileInstallationStore(base_dir=_private_dir(base / "installations"),
                                           client_id=config.client_id)  # fmt: skip
        installations = InThreads(file_store)
    elif kinds[0] == "django":
        installations = django_stores.DjangoInstallationStore(config.client_id)
    else:
        installations = _factory(kinds[0])
    states: AsyncOAuthStateStore
    expiration = int(config.state_expiration)
    if kinds[1] == "file":
        file_states = FileOAuthStateStore(expiration_seconds=expiration,
                                          base_dir=_private_dir(base / "states"),
                                          client_id=config.client_id)  # fmt: skip
        states = StatesInThreads(file_states, config.max_pending_installs)
    elif kinds[1] == "django":
        states = django_stores.DjangoOAuthStateStore(expiration, config.max_pending_installs)
    else:
        states = _factory(kinds[1])
    where = {"file": f"file ({base})", "django": "django"}
    return installations, states, " / ".join(where.get(k, k) for k in kinds)

"""slack-sdk's installation and OAuth state stores on Django's database
(``telephonist.django.slack``), on the test project's SQLite database, and their choice
when Django is in use."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from slack_sdk.oauth.installation_store.models.installation import Installation

from telephonist.django.slack.models import SlackBot, SlackInstallation, SlackOAuthState
from telephonist.django.slack.stores import DjangoInstallationStore, DjangoOAuthStateStore
from telephonist.interfaces.slack.config import OAuthConfig
from telephonist.interfaces.slack.stores import TooManyStates, django_in_use, open_stores

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
async def _closed_afterwards() -> AsyncIterator[None]:
    """The stores query in asgiref's shared thread: close its connection while the
    database is still open to this test, or a later test's consumer finds it there."""
    yield
    await sync_to_async(connections.close_all, thread_sensitive=True)()


def installation(team: str | None, user: str, token: str, **extra: object) -> Installation:
    return Installation(app_id="A1", team_id=team, team_name="t", bot_token=token,
                        bot_id="B1", bot_user_id="U0BOT", bot_scopes="chat:write",
                        user_id=user, **extra)  # type: ignore[arg-type]  # fmt: skip


async def test_installations_found_replaced_and_deleted() -> None:
    store = DjangoInstallationStore("client-1")
    await store.async_save(installation("T1", "U1", "xoxb-1"))
    bot = await store.async_find_bot(enterprise_id=None, team_id="T1")
    assert bot is not None
    assert (bot.bot_token, bot.bot_user_id, bot.bot_id) == ("xoxb-1", "U0BOT", "B1")
    assert await store.async_find_bot(enterprise_id=None, team_id="T2") is None
    assert await DjangoInstallationStore("client-2").async_find_bot(
        enterprise_id=None, team_id="T1"
    ) is None  # another app's installations are not this one's  # fmt: skip

    # Installed again (another installer, a new token): one bot row, the new token, and
    # the first installer's installation carries the workspace's latest bot token.
    await store.async_save(installation("T1", "U2", "xoxb-2"))
    assert await SlackBot.objects.acount() == 1
    assert await SlackInstallation.objects.acount() == 2
    first = await store.async_find_installation(enterprise_id=None, team_id="T1", user_id="U1")
    assert first is not None
    assert (first.user_id, first.bot_token) == ("U1", "xoxb-2")
    latest = await store.async_find_installation(enterprise_id=None, team_id="T1")
    assert latest is not None
    assert latest.user_id == "U2"

    # An organisation-wide install: found for any of its teams.
    await store.async_save(installation(None, "U9", "xoxb-org", enterprise_id="E1",
                                        is_enterprise_install=True))  # fmt: skip
    org = await store.async_find_bot(enterprise_id="E1", team_id="T7", is_enterprise_install=True)
    assert org is not None
    assert org.bot_token == "xoxb-org"

    await store.async_delete_all(enterprise_id=None, team_id="T1")
    assert await store.async_find_bot(enterprise_id=None, team_id="T1") is None
    assert await store.async_find_installation(enterprise_id=None, team_id="T1") is None
    assert await SlackBot.objects.acount() == 1  # the organisation's


async def test_states_are_single_use_expire_and_are_bounded() -> None:
    states = DjangoOAuthStateStore(600, limit=2)
    first = await states.async_issue()
    assert await states.async_consume(first)
    assert not await states.async_consume(first)
    assert not await states.async_consume("never-issued")
    old = await states.async_issue()
    await SlackOAuthState.objects.filter(state=old).aupdate(
        expires_at=datetime.now(UTC) - timedelta(seconds=1)
    )
    assert not await states.async_consume(old)  # expired, and gone
    assert await SlackOAuthState.objects.acount() == 0
    await states.async_issue()
    await states.async_issue()
    with pytest.raises(TooManyStates):
        await states.async_issue()
    await SlackOAuthState.objects.all().aupdate(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    await states.async_issue()  # the abandoned ones were swept first
    assert await SlackOAuthState.objects.acount() == 1


def test_django_is_chosen_when_in_use() -> None:
    assert django_in_use()
    config = OAuthConfig(client_id="c", client_secret="s")  # type: ignore[arg-type]
    installations, states, where = open_stores(config)
    assert isinstance(installations, DjangoInstallationStore)
    assert isinstance(states, DjangoOAuthStateStore)
    assert where == "django / django"

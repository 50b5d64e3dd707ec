"""Starting and stopping: refused tokens fail the start with Slack's reason, an
unreachable Slack does not, and stopping is bounded either way."""

from __future__ import annotations

import asyncio
import time

import pytest

from telephonist.server import StartupError
from telephonist.testing.slack import SlackStandIn, running_app
from tests.servers import free_port


async def test_a_refused_bot_token_fails_the_start(slack: SlackStandIn) -> None:
    with pytest.raises(StartupError, match="invalid_auth"):
        async with running_app(slack, bot_token="xoxb-revoked"):
            pass


async def test_a_refused_app_token_fails_the_start(slack: SlackStandIn) -> None:
    with pytest.raises(StartupError, match="invalid_auth"):
        async with running_app(slack, app_token="xapp-1-revoked"):
            pass


async def test_an_unreachable_slack_does_not_fail_the_start(slack: SlackStandIn) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}/api/"
    started = time.monotonic()
    async with running_app(slack, api_url=nowhere, api_timeout=1.0) as app:
        status = app.interface.status()["socket_mode"]
        assert status["state"] == "running"
        assert status["links"] == []
    assert time.monotonic() - started < 10


async def test_status_shows_each_link(slack: SlackStandIn) -> None:
    alice, general = slack.add_user("alice"), slack.add_channel("general")
    async with running_app(slack, connections=2) as app:
        await slack.wait_connected(2)
        await slack.message("hi", alice, general).acked()

        def acked() -> int:
            links = app.interface.status()["socket_mode"]["links"]
            return sum(link["acks"].get("acked", 0) for link in links)

        async with asyncio.timeout(10):  # counted right after the send: poll, bounded
            while acked() < 1:  # noqa: ASYNC110 (the interface's state signals nothing)
                await asyncio.sleep(0.01)
        status = app.interface.status()
        links = status["socket_mode"]["links"]
        assert sorted(link["state"] for link in links) == ["open", "open"]
        assert acked() == 1
        assert status["workspaces"][slack.team.id]["bot_user"] == slack.team.bot_user.id
        assert slack.team.bot_token not in repr(status)

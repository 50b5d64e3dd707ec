"""The OAuth redirect page's refusals, each with its status, failure page and counter:
``OAuthFlow`` in the test's loop, slack-sdk's file stores in a temporary directory, the
stand-in's authorize page issuing the codes and its ``oauth.v2.access`` exchanging
them (through slack-sdk's ``AsyncWebClient``)."""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from slack_sdk.oauth.installation_store.models.installation import Installation

from telephonist.interfaces.slack.config import OAuthConfig
from telephonist.interfaces.slack.logs import Throttled
from telephonist.interfaces.slack.oauth import OAuthFlow
from telephonist.interfaces.slack.stores import StatesInThreads, open_stores
from telephonist.testing.processes import free_port
from telephonist.testing.slack import SlackStandIn

REDIRECT = "https://bot.example/slack/oauth_redirect"
COOKIE = "slack-app-oauth-state"


class Flow:
    def __init__(self, flow: OAuthFlow, counts: Counter[str], saved: list[Installation]) -> None:
        self.flow, self.counts, self.saved = flow, counts, saved

    async def begin(self, slack: SlackStandIn) -> tuple[str, str]:
        """The install page, then Slack's authorize page: ``(state, code)``."""
        answer = await self.flow.install(https=True)
        assert answer.status == 302
        assert "Secure; HttpOnly; SameSite=Lax" in answer.headers["Set-Cookie"]
        async with (
            aiohttp.ClientSession() as browser,
            browser.get(answer.headers["Location"], allow_redirects=False) as to_app,
        ):
            assert to_app.status == 302, await to_app.text()
            back = dict(aiohttp.helpers.URL(to_app.headers["Location"]).query)
        return back["state"], back["code"]

    async def finish(self, state: str, code: str, cookie: str | None = None) -> Any:
        query = {"state": state, "code": code}
        return await self.flow.callback(query, {"cookie": f"{COOKIE}={cookie or state}"})


@contextlib.asynccontextmanager
async def flow_for(
    slack: SlackStandIn, tmp_path: Path, *, api_url: str | None = None, **oauth: Any
) -> AsyncIterator[Flow]:
    settings = {"client_id": slack.oauth.client_id, "client_secret": slack.oauth.client_secret,
                "redirect_uri": REDIRECT, "authorize_url": slack.authorize_url,
                "directory": str(tmp_path / "oauth"), "installation_store": "file",
                "state_store": "file", **oauth}  # fmt: skip
    config = OAuthConfig.model_validate(settings)
    installations, states, _ = open_stores(config)
    counts: Counter[str] = Counter()
    saved: list[Installation] = []
    async with aiohttp.ClientSession() as session:
        flow = OAuthFlow(config, api_url or slack.api_url, 5.0, installations, states,
                         lambda: session, saved.append, lambda name: counts.update([name]),
                         Throttled(__import__("logging").getLogger("test")))  # fmt: skip
        yield Flow(flow, counts, saved)


async def test_a_code_is_exchanged_once(slack: SlackStandIn, tmp_path: Path) -> None:
    async with flow_for(slack, tmp_path) as flow:
        state, code = await flow.begin(slack)
        done = await flow.finish(state, code)
        assert done.status == 200
        [installation] = flow.saved
        team = slack.oauth.installed[0]
        assert (installation.team_id, installation.bot_token) == (team.id, team.bot_token)
        assert (installation.bot_user_id, installation.bot_id) == (
            team.bot_user.id,
            team.bot_user.bot_id,
        )
        assert installation.bot_scopes == list(OAuthConfig.model_fields["scopes"].default_factory())  # type: ignore[misc]
        [call] = slack.calls_to("oauth.v2.access")
        assert call.params["redirect_uri"] == REDIRECT  # the same as on the authorize page
        # A second state with the used code: Slack refuses the exchange.
        state2, _ = await flow.begin(slack)
        refused = await flow.finish(state2, code)
        assert refused.status == 400
        assert b"invalid_code" in refused.body
        assert flow.counts["oauth_exchange_refused"] == 1


async def test_wrong_secret_unreachable_slack_and_a_failing_store(
    slack: SlackStandIn, tmp_path: Path
) -> None:
    async with flow_for(slack, tmp_path / "a", client_secret="wrong") as flow:
        refused = await flow.finish(*await flow.begin(slack))
        assert (refused.status, flow.counts["oauth_exchange_refused"]) == (400, 1)
        assert b"bad_client_secret" in refused.body
    closed = f"http://127.0.0.1:{free_port()}/api/"
    async with flow_for(slack, tmp_path / "b", api_url=closed) as flow:
        failed = await flow.finish(*await flow.begin(slack))
        assert (failed.status, flow.counts["oauth_exchange_failed"]) == (502, 1)
    async with flow_for(slack, tmp_path / "c") as flow:
        state, code = await flow.begin(slack)
        # The installations directory replaced by a file: saving fails for real.
        installations = tmp_path / "c" / "oauth" / "installations"
        for entry in installations.iterdir():
            entry.rmdir()
        installations.rmdir()
        installations.write_text("not a directory")
        broken = await flow.finish(state, code)
        assert (broken.status, flow.counts["oauth_store_failed"]) == (500, 1)
        assert flow.saved == []


async def test_states_are_single_use_bound_to_the_browser_and_bounded(
    slack: SlackStandIn, tmp_path: Path
) -> None:
    async with flow_for(slack, tmp_path, max_pending_installs=2) as flow:
        state, code = await flow.begin(slack)
        other, _ = await flow.begin(slack)
        busy = await flow.flow.install(https=True)  # two installs in progress already
        assert (busy.status, flow.counts["oauth_busy"]) == (503, 1)
        assert (await flow.finish(state, code, cookie=other)).status == 400  # not this browser
        assert (await flow.finish("../../etc", code, cookie="../../etc")).status == 400
        assert flow.counts["oauth_invalid_browser"] == 2
        assert (await flow.finish(state, code)).status == 200
        assert (await flow.finish(state, code)).status == 400  # replayed
        assert flow.counts["oauth_invalid_state"] == 1
        # An abandoned install's state is swept once expired, making room again.
        states = flow.flow.states
        assert isinstance(states, StatesInThreads)
        [left] = os.listdir(states.store.base_dir)
        os.utime(os.path.join(states.store.base_dir, left), (1, 1))
        assert (await flow.flow.install(https=True)).status == 302
        assert left not in os.listdir(states.store.base_dir)


async def test_denied_install_uses_its_state_up(slack: SlackStandIn, tmp_path: Path) -> None:
    async with flow_for(slack, tmp_path) as flow:
        slack.oauth.approve_next(deny=True)
        answer = await flow.flow.install(https=False)
        async with (
            aiohttp.ClientSession() as browser,
            browser.get(answer.headers["Location"], allow_redirects=False) as to_app,
        ):
            back = dict(aiohttp.helpers.URL(to_app.headers["Location"]).query)
        assert back["error"] == "access_denied"
        cookie = {"cookie": f"{COOKIE}={back['state']}"}
        denied = await flow.flow.callback(back, cookie)
        assert (denied.status, flow.counts["oauth_denied"]) == (403, 1)
        states = flow.flow.states
        assert isinstance(states, StatesInThreads)
        assert os.listdir(states.store.base_dir) == []


@pytest.mark.parametrize(
    ("query", "status"),
    [({"state": "x"}, 400), ({"code": "y"}, 400), ({}, 400), ({"error": "access_denied"}, 403)],
)
async def test_redirects_missing_pieces(
    slack: SlackStandIn, tmp_path: Path, query: dict[str, str], status: int
) -> None:
    async with flow_for(slack, tmp_path) as flow:
        assert (await flow.flow.callback(query, {})).status == status

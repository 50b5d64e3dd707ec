"""Installing the app through OAuth, with a browser-like HTTP client following the
redirects: ``telephonist run`` serving the install and redirect pages on the HTTP port,
the stand-in as Slack's authorize page and ``oauth.v2.access``, the tokens in
slack-sdk's file store. The new workspace's events are then answered with its own token,
also by a server started afterwards (it finds the token in the store), until Slack says
the app was uninstalled."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest
from slack_sdk.oauth.installation_store import FileInstallationStore

from telephonist.testing.processes import free_port
from telephonist.testing.slack import SlackStandIn, Team
from tests.slack.processes import TELEPHONIST, run_cli, started

pytestmark = [pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def toml_for(slack: SlackStandIn, port: int, directory: Path) -> str:
    return f"""\
routing = "tests.slack.httpapp.routes"

[interfaces.http]
endpoints = ["tcp:port={port}:interface=127.0.0.1"]

[interfaces.slack]
post_interval = 0.0

[interfaces.slack.oauth]
client_id = "{slack.oauth.client_id}"
redirect_uri = "http://127.0.0.1:{port}/slack/oauth_redirect"
authorize_url = "{slack.authorize_url}"
directory = "{directory}"
"""


def env_for(slack: SlackStandIn, tmp_path: Path) -> dict[str, str]:
    return {  # no bot token at all: every workspace comes through OAuth
        "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        "TELEPHONIST_INTERFACES__SLACK__APP_TOKEN": slack.app_token,
        "TELEPHONIST_INTERFACES__SLACK__API_URL": slack.api_url,
        "TELEPHONIST_INTERFACES__SLACK__OAUTH__CLIENT_SECRET": slack.oauth.client_secret,
        "TELEPHONIST_STATUS__SOCKET_DIR": str(tmp_path / "status"),
    }


async def answered_in(slack: SlackStandIn, team: Team, text: str) -> None:
    """A message in ``team`` over Socket Mode is answered with ``team``'s own token."""
    alice = slack.add_user(f"alice-{text}", team=team)
    room = slack.add_channel(f"room-{text}", team=team)
    await slack.message(text, alice, room, team=team).acked(within=20)
    call = await slack.wait_for_call(
        "chat.postMessage", lambda c: c.params.get("text") == f"got {text}", within=20
    )
    assert (call.ok, call.token, call.params["channel"]) == (True, team.bot_token, room.id)


async def test_install_by_oauth_then_serve_the_workspace(slack: SlackStandIn, tmp_path: Path
                                                         ) -> None:  # fmt: skip
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    directory = tmp_path / "oauth"
    (tmp_path / "telephonist.toml").write_text(toml_for(slack, port, directory))
    env = env_for(slack, tmp_path)
    command = [*TELEPHONIST, "run"]
    async with started(command, env=env, cwd=tmp_path, log=tmp_path / "run1.log") as server:
        await server.wait_for(r"^telephonist: ready$")
        await slack.wait_connected()
        callback = await install(slack, base)
        [team] = slack.oauth.installed
        await answered_in(slack, team, "first")
        await refusals(slack, base, callback)
        code, out, _ = await run_cli("status", "--json", env=env, cwd=tmp_path)
    assert code == 0, out
    [host] = [p for p in json.loads(out)["processes"] if p.get("kind") == "host"]
    counters = host["interfaces"]["slack"]["counters"]
    assert counters["oauth_started"] == 3
    assert counters["oauth_installs"] == 1
    assert (counters["oauth_denied"], counters["oauth_invalid_state"]) == (1, 1)
    assert counters["oauth_invalid_browser"] == 1
    assert (
        host["interfaces"]["slack"]["status"]["oauth"]["stores"]
        == f"file ({directory}) / file ({directory})"
    )
    assert sorted(host["interfaces"]["http"]["status"]["mounted_paths"]) == [
        "/slack/install", "/slack/oauth_redirect",
    ]  # fmt: skip
    for secret in (slack.oauth.client_secret, team.bot_token):
        assert secret not in out
        assert secret not in server.output()
    assert stat.S_IMODE((directory / "installations").stat().st_mode) == 0o700

    # A server started later finds the workspace's token in the store; then Slack says
    # the app was uninstalled there, and the installation is gone from the store.
    async with started(command, env=env, cwd=tmp_path, log=tmp_path / "run2.log") as server:
        await server.wait_for(r"^telephonist: ready$")
        await slack.wait_connected()
        await answered_in(slack, team, "again")
        await slack.push_event({"type": "app_uninstalled"}, team=team).acked(within=20)
    store = FileInstallationStore(base_dir=str(directory / "installations"),
                                  client_id=slack.oauth.client_id)  # fmt: skip
    assert store.find_bot(enterprise_id=None, team_id=team.id) is None


async def install(slack: SlackStandIn, base: str) -> str:
    """The whole flow, as a browser does it; returns the redirect URL Slack sent."""
    async with httpx.AsyncClient(follow_redirects=True, timeout=20) as browser:
        page = await browser.get(f"{base}/slack/install")
    assert page.status_code == 200, page.text
    assert "Thank you!" in page.text
    to_slack, back = page.history
    assert to_slack.status_code == back.status_code == 302
    assert to_slack.headers["location"].startswith(slack.authorize_url + "?state=")
    assert "HttpOnly" in to_slack.headers["set-cookie"]
    assert "Secure" not in to_slack.headers["set-cookie"]  # served over plain HTTP here
    location = back.headers["location"]
    assert location.startswith(f"{base}/slack/oauth_redirect?code=")
    [call] = slack.calls_to("oauth.v2.access")
    assert call.ok
    return location


async def refusals(slack: SlackStandIn, base: str, callback: str) -> None:
    async with httpx.AsyncClient(follow_redirects=True, timeout=20) as browser:
        # The installer cancels on Slack's page.
        slack.oauth.approve_next(deny=True)
        denied = await browser.get(f"{base}/slack/install")
        assert denied.status_code == 403
        assert "access_denied" in denied.text
        # Slack's redirect, replayed: its state was used up.
        state = dict(httpx.URL(callback).params)["state"]
        again = await browser.get(callback, headers={"Cookie": f"slack-app-oauth-state={state}"})
        assert again.status_code == 400
        assert "invalid_state" in again.text
        # A redirect this browser did not start (no state cookie): CSRF.
        started_here = await browser.get(f"{base}/slack/install", follow_redirects=False)
        issued: Any = dict(httpx.URL(started_here.headers["location"]).params)["state"]
        async with httpx.AsyncClient(timeout=20) as stranger:
            forged = await stranger.get(
                f"{base}/slack/oauth_redirect", params={"state": issued, "code": "x"}
            )
        assert forged.status_code == 400
        assert "invalid_browser" in forged.text
    assert len(slack.oauth.installed) == 1

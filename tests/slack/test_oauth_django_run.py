"""A Django project installing its Slack app through OAuth: ``manage.py migrate``, then
``manage.py runserver`` (all-in-one: the HTTP and Slack interfaces and a worker) with
``telephonist.django.slack`` installed, so installations go to the project's database
without configuring a store. A browser-like client follows the install; the new
workspace's message is answered by the project's consumer with that workspace's token."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import httpx
import pytest

from telephonist.testing.processes import free_port
from telephonist.testing.slack import SlackStandIn
from tests.slack.processes import DJANGO, run_command, started

pytestmark = [pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


async def test_django_project_installs_by_oauth(slack: SlackStandIn, tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite3"
    database = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(db)}}
    (tmp_path / "oauth_settings.py").write_text(
        f"from tests.django.settings import *  # noqa: F403\nDATABASES = {database!r}\n"
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    oauth = {"client_id": slack.oauth.client_id, "client_secret": slack.oauth.client_secret,
             "authorize_url": slack.authorize_url}  # fmt: skip
    env = {
        "DJANGO_SETTINGS_MODULE": "oauth_settings",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "TELEPHONIST_INTERFACES__SLACK__APP_TOKEN": slack.app_token,
        "TELEPHONIST_INTERFACES__SLACK__API_URL": slack.api_url,
        "TELEPHONIST_INTERFACES__SLACK__OAUTH": json.dumps(oauth),
        "TELEPHONIST_STATUS__SOCKET_DIR": str(tmp_path / "status"),
    }
    slack.oauth.redirect_urls.append(f"{base}/slack/oauth_redirect")  # the app's configuration
    migrate = [*DJANGO, "migrate", "--noinput", "-v", "0"]
    code, out, err = await run_command(migrate, env=env, cwd=tmp_path, within=120)
    assert code == 0, out + err
    runserver = [*DJANGO, "runserver", f"127.0.0.1:{port}", "--noreload", "--insecure"]
    async with started(runserver, env=env, cwd=tmp_path, log=tmp_path / "run.log") as server:
        await server.wait_for(r"^telephonist: ready$", within=60)
        await slack.wait_connected(within=30)
        async with httpx.AsyncClient(follow_redirects=True, timeout=20) as browser:
            page = await browser.get(f"{base}/slack/install")
        assert page.status_code == 200, page.text
        [team] = slack.oauth.installed
        alice = slack.add_user("alice", display_name="Alice", team=team)
        general = slack.add_channel("general", team=team)
        await slack.message("Hello OAuth", alice, general, team=team).acked(within=20)
        call = await slack.wait_for_call("chat.postMessage", within=20)
    assert (call.ok, call.token) == (True, team.bot_token)
    assert call.params["text"].startswith("hello-oauth for Alice in #general")
    assert "installations: django / django" in server.output()
    with sqlite3.connect(db) as rows:
        bots = rows.execute("SELECT team_id, data FROM telephonist_slack_slackbot").fetchall()
        states = rows.execute("SELECT COUNT(*) FROM telephonist_slack_slackoauthstate").fetchone()
    assert [(t, json.loads(d)["bot_token"]) for t, d in bots] == [(team.id, team.bot_token)]
    assert states == (0,)  # the install's state was used up

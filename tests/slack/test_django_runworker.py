"""A Django project's consumer answering Slack: ``manage.py runinterfaces --interface
slack`` and ``manage.py runworker`` over a real Redis, the stand-in as Slack."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import pytest

from telephonist.testing.slack import SlackStandIn
from tests.servers import RedisServer
from tests.slack.processes import DJANGO, started

pytestmark = [pytest.mark.redis, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


async def test_django_consumer_answers_slack_through_runworker(
    slack: SlackStandIn, redis_server: RedisServer, tmp_path: Path
) -> None:
    alice, general = slack.add_user("alice", display_name="Alice"), slack.add_channel("general")
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.django.settings",
        "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        "TELEPHONIST_LAYER__BACKEND": "redis",
        "TELEPHONIST_LAYER__CONFIG": json.dumps(
            {"hosts": [redis_server.url], "prefix": "t" + secrets.token_hex(4)}
        ),
        "TELEPHONIST_INTERFACES__SLACK__BOT_TOKEN": slack.team.bot_token,
        "TELEPHONIST_INTERFACES__SLACK__APP_TOKEN": slack.app_token,
        "TELEPHONIST_INTERFACES__SLACK__API_URL": slack.api_url,
        "TELEPHONIST_STATUS__SOCKET_DIR": str(tmp_path / "status"),
    }
    runinterfaces = [*DJANGO, "runinterfaces", "--interface", "slack"]
    runworker = [*DJANGO, "runworker", "--only", "slack.*"]
    async with (
        started(runinterfaces, env=env, cwd=ROOT, log=tmp_path / "interfaces.log") as interfaces,
        started(runworker, env=env, cwd=ROOT, log=tmp_path / "worker.log") as worker,
    ):
        await interfaces.wait_for(r"^telephonist: ready$")
        found = await worker.wait_for(r"^worker \S+: (.*)$")
        assert "slack.message" in found.group(1)
        await worker.wait_for(r"^telephonist: ready$")
        await slack.wait_connected(1, within=30)
        delivery = slack.message("Hello Django World", alice, general)
        await delivery.acked(within=30)
        call = await slack.wait_for_call("chat.postMessage", within=30)
    assert call.ok
    assert call.params["channel"] == general.id
    assert call.params["text"] == (
        "hello-django-world for Alice in #general (tests.django.testapp.urls)"
    )

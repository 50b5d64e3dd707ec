"""Slack for the example: your workspace when its tokens are given, else the stand-in.

``MULTICHAT_SLACK=#lobby`` turns the Slack interface on and bridges channel ``lobby``:

* with ``TELEPHONIST_INTERFACES__SLACK__BOT_TOKEN`` (and ``..._APP_TOKEN`` for Socket
  Mode, or ``..._SIGNING_SECRET`` for the Events API) in the environment, those settings
  are the interface's (docs/slack.md), and the bot bridges whatever channels it is in;
* without them, a newcomer still sees Slack working offline: the Slack stand-in
  (``telephonist.testing.slack``) runs in this process, in a thread of its own, with
  that channel, and serves a page at http://127.0.0.1:8025/ (``MULTICHAT_SLACK_PORT``)
  where you post as a Slack user and see what the bridge posts there. It starts only for
  the commands that serve (``runserver``, ``runinterfaces``; not ``migrate``), for the
  all-in-one run.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from .bridges import slack_channel

#: Commands that serve no interface: no stand-in for them.
_NOT_SERVING = {"migrate", "makemigrations", "showmigrations", "runworker", "check", "shell",
                "dbshell", "collectstatic", "createsuperuser", "test", "help",
                "bridges"}  # fmt: skip
_standin: Any = None


def slack_settings(setting: str) -> dict[str, Any]:
    """The ``interfaces`` entry for Slack (none when ``setting`` is empty)."""
    if not setting or os.environ.get("TELEPHONIST_INTERFACES__SLACK__BOT_TOKEN"):
        return {}  # off, or configured by the environment
    if set(sys.argv[1:2]) & _NOT_SERVING:
        return {}
    slack = _start_standin(slack_channel(setting)[0])
    return {
        "slack": {
            "bot_token": slack.team.bot_token,
            "app_token": slack.app_token,
            "api_url": slack.api_url,
        }
    }


def _start_standin(channel: str) -> Any:
    global _standin
    if _standin is None:
        from django.core.exceptions import ImproperlyConfigured

        from telephonist.testing.slack import StandInThread

        port = int(os.environ.get("MULTICHAT_SLACK_PORT", "8025"))
        standin = StandInThread(port, page=True)
        try:
            standin.start()
        except OSError as exc:
            raise ImproperlyConfigured(
                f"MULTICHAT_SLACK: the Slack stand-in cannot listen on 127.0.0.1:{port} "
                f"({exc.strerror}); set MULTICHAT_SLACK_PORT"
            ) from None
        standin.call(lambda s: s.add_channel(channel))
        print(
            f"multichat: Slack stand-in (no Slack tokens given): post as a Slack user in "
            f"#{channel} at {standin.slack.base_url}/",
            file=sys.stderr,
            flush=True,
        )
        _standin = standin
    return _standin.slack

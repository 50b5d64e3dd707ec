"""``manage.py bridges``: what this configuration bridges, for ``make run``'s banner.

Read from the configuration ``runserver`` is about to run (Django's settings, then
``telephonist.toml`` and ``TELEPHONIST_*`` variables), so the banner cannot say "IRC is
off" while an IRC network is configured. Where each interface listens is printed by
``runserver`` itself, once it listens.
"""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from multichat.bridges import slack_channel

from telephonist.django.settings import load_django_config

HINT_IRC = "MULTICHAT_IRC=ircs://irc.libera.chat:6697/#multichat-lobby make run"
HINT_SLACK = "MULTICHAT_SLACK=#lobby make run"


def _irc(options: dict[str, Any]) -> list[str]:
    networks = options.get("networks") or []
    if options.get("enabled", True) is False or not networks:
        return [
            "- IRC: off. To bridge an IRC channel to the room of its name:",
            f"    {HINT_IRC}",
            "  (ircs:// is TLS, port 6697 unless given; irc:// is plain text, port 6667)",
        ]
    lines = []
    for net in networks:
        tls = net.get("tls", True)
        where = f"{'ircs' if tls else 'irc'}://{net['host']}:{net.get('port', 6697)}"
        channels = ", ".join(str(c) for c in net.get("channels", [])) or "no channel yet"
        lines.append(
            f"- IRC: {where} ({'TLS' if tls else 'no TLS'}) as {net.get('nick')}: "
            f"{channels}, each bridged to the room of its name"
        )
    return lines


def _slack(setting: str, configured: bool) -> list[str]:
    # Not the interface's settings: this command never starts the stand-in they would
    # name (multichat/slack.py), it says what runserver will do.
    port = os.environ.get("MULTICHAT_SLACK_PORT", "8025")
    if setting:
        channel, room = slack_channel(setting)
        where = (
            "your workspace (its tokens are set)"
            if os.environ.get("TELEPHONIST_INTERFACES__SLACK__BOT_TOKEN")
            else f"the offline Slack stand-in: post as a Slack user at http://127.0.0.1:{port}/"
        )
        return [f"- Slack: #{channel} bridged to room {room}, on {where}"]
    if configured:
        return [
            "- Slack: configured; every channel the bot is in is bridged to the room of its name"
        ]
    return [
        "- Slack: off. To bridge a Slack channel to the room of its name:",
        f"    {HINT_SLACK}",
        "  (with TELEPHONIST_INTERFACES__SLACK__BOT_TOKEN and __APP_TOKEN set: your workspace;",
        f"  without: an offline Slack stand-in, post as a Slack user at http://127.0.0.1:{port}/)",
    ]


class Command(BaseCommand):
    help = "Print what the multichat example bridges with this configuration."

    def handle(self, *args: Any, **options: Any) -> None:
        config = load_django_config()
        interfaces = config.interfaces
        mailbox = settings.MULTICHAT_MAILBOX
        lines = ["", "multichat: one room of each name on the web, by mail, on IRC and Slack"]
        lines.append(
            "- web: open the http address below (the page asks for a room; "
            "its WebSocket is on the same port)"
        )
        email = interfaces.get("email")
        if mailbox and email is not None and email.get("enabled", True) is not False:
            sample = mailbox.format(room="<name>")
            lines.append(f"- mail: room <name> is the mailbox {sample}, over SMTP at the")
            lines.append("  email address below")
        else:
            lines.append("- mail: off (MULTICHAT_MAILBOX is empty or email is disabled)")
        lines += _irc(interfaces.get("irc") or {})
        lines += _slack(settings.MULTICHAT_SLACK, "slack" in interfaces)
        lines.append(
            "- split processes over Redis: TELEPHONIST_LAYER__BACKEND=redis, then "
            "manage.py runinterfaces and manage.py runworker"
        )
        self.stdout.write("\n".join([*lines, ""]))

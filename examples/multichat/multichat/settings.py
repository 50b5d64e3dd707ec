"""Settings of the multichat example: chat rooms over the web, email and IRC, bridged.

Everything runs in one process with ``manage.py runserver`` (Telephonist's): the HTTP
and WebSocket interface on 127.0.0.1:8000 and the email interface on 127.0.0.1:2525.
What is bridged to what is one setting per protocol, from the environment
(``multichat/bridges.py``):

* ``MULTICHAT_IRC=ircs://irc.libera.chat/#mychannel`` bridges that IRC channel to room
  ``mychannel`` (off by default: IRC needs a network);
* ``MULTICHAT_MAILBOX=room-{room}@localhost`` (the default) gives every room a mailbox;
* ``MULTICHAT_SLACK=#lobby`` bridges that Slack channel to room ``lobby``: your Slack
  when its tokens are in the environment, else the Slack stand-in, run in this process
  with a page to post as a Slack user (``multichat/slack.py``).
"""

from __future__ import annotations

import os
from pathlib import Path

from .bridges import irc_network, links, mail_domain, mail_recipients
from .slack import slack_settings

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("MULTICHAT_SECRET_KEY", "multichat-example-not-secret")
DEBUG = os.environ.get("MULTICHAT_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

INSTALLED_APPS = [
    "telephonist.django",  # before staticfiles: its runserver is the one that runs
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.staticfiles",
    "chat",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
]

ROOT_URLCONF = "multichat.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    }
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("MULTICHAT_DB", str(BASE_DIR / "db.sqlite3")),
    }
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"  # Django exports it as TZ: log timestamps follow it
STATIC_URL = "static/"

MULTICHAT_IRC = os.environ.get("MULTICHAT_IRC", "")
MULTICHAT_MAILBOX = os.environ.get("MULTICHAT_MAILBOX", "room-{room}@localhost")
#: The bridge's rooms (``telephonist.consumers.ChatBridge.links``).
_IRC = bool(MULTICHAT_IRC or os.environ.get("TELEPHONIST_INTERFACES__IRC__NETWORKS"))
MULTICHAT_SLACK = os.environ.get("MULTICHAT_SLACK", "")
MULTICHAT_LINKS = links(MULTICHAT_IRC, MULTICHAT_MAILBOX, irc=_IRC, slack=MULTICHAT_SLACK)
#: Limits the server enforces and the page shows (the WebSocket interface's
#: ``chat_max_text`` is told to the page in its ``hello`` frame).
MULTICHAT_MAX_NAME = 30
MULTICHAT_HISTORY = 200

TELEPHONIST = {
    "routing": "multichat.routing.routes",
    "interfaces": {
        "http": {"websocket": {"chat_max_text": 4000}},  # `runserver [addr:]port` says where
        "email": {
            "host": "127.0.0.1",
            "port": 2525,
            "domains": [mail_domain(MULTICHAT_MAILBOX)],
            "recipients": mail_recipients(MULTICHAT_MAILBOX),  # room mailboxes only
        },
        # No network until MULTICHAT_IRC names one. The chat events the bridge routes.
        "irc": {
            "events": ["receive", "join", "part", "kick", "quit", "topic"],
            "networks": [irc_network(MULTICHAT_IRC)] if MULTICHAT_IRC else [],
        },
        # Only when MULTICHAT_SLACK names a channel: your tokens, else the stand-in's.
        **slack_settings(MULTICHAT_SLACK),
    },
}

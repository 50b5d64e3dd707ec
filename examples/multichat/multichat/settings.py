"""Settings of the multichat example: chat rooms over WebSocket, email and IRC.

Everything runs in one process with ``manage.py runserver`` (Telephonist's): the HTTP
and WebSocket interface on 127.0.0.1:8000 and the email interface on 127.0.0.1:2525
(mail to room-<name>@localhost posts in room <name>). IRC needs a network, so it is
off until configured, for example from the environment without editing this file::

    TELEPHONIST_INTERFACES__IRC__NETWORKS='[{"name": "libera", "host": "irc.libera.chat",
      "nick": "multichat-demo", "channels": [{"name": "#multichat-lobby"}]}]'

(IRC channel #<room> is room <room>.)
"""

from __future__ import annotations

import os
from pathlib import Path

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

TELEPHONIST = {
    "routing": "multichat.routing.routes",
    "interfaces": {
        "http": {},  # HTTP and WebSocket; `runserver [addr:]port` says where
        "email": {"host": "127.0.0.1", "port": 2525, "domains": ["localhost"]},
        # No network until one is configured (see the top of this file). The bot's own
        # join and part tell the room consumer when an IRC channel is bridged.
        "irc": {"events": ["receive", "join", "part"]},
    },
}

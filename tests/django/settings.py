"""Django settings of the tests under tests/django (pytest-django's DJANGO_SETTINGS_MODULE).

pytest-django sets Django up once per test session, for every test package; nothing
here does anything until a test asks for the database (``django_db``), so tests that
do not use Django are unaffected. The SQLite test database is a file, not memory,
because a live server in another process and worker threads must all reach it.
PostgreSQL (the machine's local server, trust auth) is the ``pg`` alias when it
answers; tests that need it call ``require_service`` otherwise.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import tempfile
from pathlib import Path
from typing import Any

SECRET_KEY = "telephonist-tests-only"
DEBUG = False
# Not "*": WebSocket origins follow ALLOWED_HOSTS, and "*" with sessions is W003.
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", "testserver"]
USE_TZ = True
ROOT_URLCONF = "tests.django.testapp.urls"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
STATIC_URL = "/static/"

INSTALLED_APPS = [
    "telephonist.django",
    "telephonist.django.slack",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.staticfiles",
    "tests.django.testapp",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": []},
    }
]

_TMP = Path(tempfile.gettempdir()) / f"telephonist-django-tests-{os.getpid()}"
_TMP.mkdir(exist_ok=True)
atexit.register(shutil.rmtree, _TMP, ignore_errors=True)  # per process: its own pid

PG_HOST = os.environ.get("TELEPHONIST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("TELEPHONIST_PG_PORT", "5432"))


def _pg_answers() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=0.5):
            return True
    except OSError:
        return False


DATABASES: dict[str, Any] = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(_TMP / "db.sqlite3"),
        "TEST": {"NAME": str(_TMP / "test.sqlite3")},
    }
}
PG_AVAILABLE = _pg_answers()
if PG_AVAILABLE:
    DATABASES["pg"] = {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": PG_HOST,
        "PORT": PG_PORT,
        "USER": os.environ.get("TELEPHONIST_PG_USER", "postgres"),
        "NAME": "test",
        "TEST": {"NAME": f"test_telephonist_{os.getpid()}"},
    }

TELEPHONIST = {
    "routing": "tests.django.testapp.routing.routes",
    "interfaces": {"http": {"endpoints": ["tcp:port=0:interface=127.0.0.1"]}},
}

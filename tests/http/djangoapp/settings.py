"""A small Django project for the DjangoViewConsumer tests: sessions, auth, CSRF and a
middleware of its own, on a SQLite file the test names in ``DJANGOAPP_DB``."""

import os

SECRET_KEY = "telephonist-tests-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "tests.http.djangoapp.middleware.stamp",
]
ROOT_URLCONF = "tests.http.djangoapp.urls"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DJANGOAPP_DB", ":memory:"),
    }
}
USE_TZ = True
# Small, so the upload test spools to a temporary file on both sides.
FILE_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

"""Settings of the benchmark project: ``startproject``'s defaults, DEBUG off.

The database is configured (the auth and session apps want one) but no view touches it.
``CHANNEL_LAYERS`` is for Channels under Daphne and uvicorn (``bench/broadcast.py``):
``BENCH_CHANNEL_LAYER`` picks Channels' in-memory layer (the default), channels_redis
core or its pub/sub layer, or Telephonist's Redis layer, on ``BENCH_REDIS_URL``.
Telephonist reads its own layer from ``telephonist.toml``.

The channels_redis backends get ``socket_timeout`` off: redis-py 8 made it default to
5 s, the same as channels_redis core's ``BZPOPMIN`` timeout, so a consumer whose
``channel_name`` gets nothing for 5 s dies with ``redis.exceptions.TimeoutError`` and
Daphne closes its socket 1011 (django/channels_redis#422, open; redis/redis-py#4091).
This is the workaround given there, which a Channels project on redis-py 8 has to carry.
Telephonist's layer keeps the plain URL, i.e. its own defaults (its blocking pops have
no read timeout whatever the setting): the workaround can only help the peers. Where
Telephonist hosts the project (``channels-split`` in ``bench/broadcast.py``), its layer
serves the channels_redis core entry as written, workaround included, as it would for a
user who moved such a project.
"""

import os

_LAYER = os.environ.get("BENCH_CHANNEL_LAYER", "memory")
_REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")
_CHANNELS_REDIS_HOSTS = [{"address": _REDIS, "socket_timeout": None}]
CHANNEL_LAYERS = {
    "default": {
        "memory": {"BACKEND": "channels.layers.InMemoryChannelLayer"},
        "redis-core": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": _CHANNELS_REDIS_HOSTS},
        },
        "redis-pubsub": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": _CHANNELS_REDIS_HOSTS},
        },
        # The same Channels project with Telephonist's Redis layer as its CHANNEL_LAYERS
        # (a drop-in: Channels builds it from BACKEND and CONFIG as any layer).
        "telephonist-redis": {
            "BACKEND": "telephonist.core.redis.RedisChannelLayer",
            "CONFIG": {"hosts": [_REDIS]},
        },
    }[_LAYER]
}

SECRET_KEY = "telephonist-bench-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "bench.webapp.urls"
# What Daphne and uvicorn are given on their command lines; Telephonist's workers host it
# when ``telephonist.django`` is installed (``settings_telephonist.py``).
ASGI_APPLICATION = "bench.webapp.asgi.application"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGGING_CONFIG = None  # no Django logging set-up: nothing is logged per request

"""The benchmark project moved to Telephonist as docs/django.md ("Moving a Channels
project") says: ``telephonist.django`` first in ``INSTALLED_APPS``, everything else as
it is, so the workers host ``ASGI_APPLICATION`` (``bench/webapp/asgi.py``)."""

from bench.webapp.settings import *  # noqa: F403
from bench.webapp.settings import INSTALLED_APPS

INSTALLED_APPS = ["telephonist.django", *INSTALLED_APPS]

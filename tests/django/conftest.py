"""Fixtures of the Django integration tests (settings: tests/django/settings.py)."""

from __future__ import annotations

import pytest

from telephonist.django.pytest_plugin import consumer_tester, telephonist_live_server
from tests.django.chatpage import browser
from tests.django.multichat import ircd
from tests.django.testapp import counting_sessions

__all__ = ["browser", "consumer_tester", "ircd", "telephonist_live_server"]


@pytest.fixture
def counted_sessions(settings: object) -> counting_sessions.Counts:
    """Sessions in the database, with every load and save counted."""
    settings.SESSION_ENGINE = "tests.django.testapp.counting_sessions"  # type: ignore[attr-defined]
    counting_sessions.COUNTS.reset()
    return counting_sessions.COUNTS

"""pytest fixtures for Django projects: ``pytest_plugins = ["telephonist.django.pytest_plugin"]``
in a ``conftest.py`` (next to pytest-django, which provides the database fixtures).

* ``consumer_tester``: a :class:`telephonist.django.testing.ConsumerTester` over the
  project's routing, closed after the test;
* ``telephonist_live_server``: a :class:`~telephonist.django.testing.LiveServer`
  serving the project for real on free ports, with ``transactional_db`` (the server is
  another process: it only sees committed data).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .testing import ConsumerTester, LiveServer

__all__ = ["consumer_tester", "telephonist_live_server"]


@pytest.fixture
def consumer_tester() -> Iterator[ConsumerTester]:
    with ConsumerTester() as tester:
        yield tester


@pytest.fixture
def telephonist_live_server(transactional_db: None) -> Iterator[LiveServer]:
    with LiveServer() as server:
        yield server

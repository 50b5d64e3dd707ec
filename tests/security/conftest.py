"""Fixtures of the security tests: the real peers of the other test packages, shared.

Each claim of ``docs/security.md`` is backed by a test here, against real peers: Redis
(``redis_server``, from ``tests/conftest.py``), ngircd and InspIRCd + Anope
(``tests/irc``), swaks, smtplib and Postfix (``tests/email``), the Slack stand-in
(``tests/slack``), ``telephonist`` processes (``tests/runtime``) and Django's live
server (``tests/django``).
"""

from __future__ import annotations

from telephonist.django.pytest_plugin import telephonist_live_server
from tests.email.conftest import certs
from tests.irc.conftest import inspircd_anope, ngircd, peers, start_irc
from tests.runtime.conftest import clients, project, spawn
from tests.slack.conftest import slack

__all__ = [
    "certs",
    "clients",
    "inspircd_anope",
    "ngircd",
    "peers",
    "project",
    "slack",
    "spawn",
    "start_irc",
    "telephonist_live_server",
]

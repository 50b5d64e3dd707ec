"""Rows behind slack-sdk's installation and OAuth state stores (``stores.py``).

An installation (the workspace's and installer's tokens, as ``oauth.v2.access`` gave
them) and a bot (the part the interface needs: the bot token and who the bot is) are
kept as slack-sdk's own dictionaries in ``data``, beside the columns they are looked up
by. Only the latest installation of a workspace (per installer) and its latest bot are
kept: a re-install replaces them, so the tables do not grow with re-installs.
"""

from __future__ import annotations

from django.db import models

__all__ = ["SlackBot", "SlackInstallation", "SlackOAuthState"]


class SlackInstallation(models.Model):
    client_id = models.CharField(max_length=64)
    enterprise_id = models.CharField(max_length=64, null=True)
    team_id = models.CharField(max_length=64, null=True)
    user_id = models.CharField(max_length=64)
    is_enterprise_install = models.BooleanField(default=False)
    installed_at = models.DateTimeField()
    data = models.JSONField()  # slack_sdk Installation.__dict__

    class Meta:
        indexes = [models.Index(fields=["client_id", "enterprise_id", "team_id", "user_id"])]


class SlackBot(models.Model):
    client_id = models.CharField(max_length=64)
    enterprise_id = models.CharField(max_length=64, null=True)
    team_id = models.CharField(max_length=64, null=True)
    is_enterprise_install = models.BooleanField(default=False)
    installed_at = models.DateTimeField()
    data = models.JSONField()  # slack_sdk Bot.__dict__

    class Meta:
        indexes = [models.Index(fields=["client_id", "enterprise_id", "team_id"])]


class SlackOAuthState(models.Model):
    """An install in progress: consumed (deleted) by the redirect that finishes it."""

    state = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField(db_index=True)

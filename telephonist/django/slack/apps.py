"""The Django app ``telephonist.django.slack`` (label ``telephonist_slack``)."""

from __future__ import annotations

from django.apps import AppConfig

__all__ = ["SlackConfig"]


class SlackConfig(AppConfig):
    name = "telephonist.django.slack"
    label = "telephonist_slack"
    verbose_name = "Telephonist: Slack installations"
    default_auto_field = "django.db.models.BigAutoField"

"""Payloads Slack sends apps, built the way Slack documents them.

* Events API: the ``event_callback`` wrapper (``team_id``, ``api_app_id``, ``event``,
  ``event_id``, ``event_time``, ``authorizations``) around an inner event.
* Slash commands: the form fields (``command``, ``text``, ``user_id``, ``channel_id``,
  ``response_url``, ``trigger_id``, ...).
* Interactivity: ``block_actions``, ``view_submission``, ``view_closed``, ``shortcut``,
  ``message_action`` and ``block_suggestion`` payloads.

Pure functions: the stand-in supplies the ids, ``ts`` values, trigger ids and response
URLs it will later recognise.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

__all__ = [
    "block_actions",
    "block_suggestion",
    "event_callback",
    "new_event_id",
    "shortcut",
    "slash_command",
    "view_closed",
    "view_submission",
]


def new_event_id() -> str:
    return "Ev" + secrets.token_hex(5).upper()


def event_callback(
    event: dict[str, Any], *, team_id: str, app_id: str, bot_user_id: str, event_id: str
) -> dict[str, Any]:
    return {
        "token": "verification-token-unused",
        "team_id": team_id,
        "api_app_id": app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [{"enterprise_id": None, "team_id": team_id, "user_id": bot_user_id,
                            "is_bot": True, "is_enterprise_install": False}],
        "is_ext_shared_channel": False,
        "event_context": "4-" + secrets.token_hex(12),
    }  # fmt: skip


def _team(team_id: str, domain: str) -> dict[str, Any]:
    return {"id": team_id, "domain": domain}


def _user(user_id: str, name: str, team_id: str) -> dict[str, Any]:
    return {"id": user_id, "username": name, "name": name, "team_id": team_id}


def slash_command(
    *, command: str, text: str, team_id: str, domain: str, app_id: str, user_id: str,
    user_name: str, channel_id: str, channel_name: str, response_url: str, trigger_id: str,
) -> dict[str, Any]:  # fmt: skip
    return {
        "token": "verification-token-unused", "team_id": team_id, "team_domain": domain,
        "channel_id": channel_id, "channel_name": channel_name, "user_id": user_id,
        "user_name": user_name, "command": command, "text": text, "api_app_id": app_id,
        "is_enterprise_install": "false", "response_url": response_url,
        "trigger_id": trigger_id,
    }  # fmt: skip


def block_actions(
    *, actions: list[dict[str, Any]], team_id: str, domain: str, app_id: str, user_id: str,
    user_name: str, channel_id: str | None, channel_name: str | None, message_ts: str | None,
    response_url: str | None, trigger_id: str, view: dict[str, Any] | None = None,
) -> dict[str, Any]:  # fmt: skip
    payload: dict[str, Any] = {
        "type": "block_actions", "team": _team(team_id, domain),
        "user": _user(user_id, user_name, team_id), "api_app_id": app_id,
        "token": "verification-token-unused", "trigger_id": trigger_id,
        "actions": [{"action_ts": f"{time.time():.6f}", **a} for a in actions],
    }  # fmt: skip
    if channel_id is not None:
        payload["channel"] = {"id": channel_id, "name": channel_name}
        payload["container"] = {"type": "message", "message_ts": message_ts,
                                "channel_id": channel_id, "is_ephemeral": False}  # fmt: skip
        payload["message"] = {"type": "message", "ts": message_ts, "text": ""}
    if response_url is not None:
        payload["response_url"] = response_url
    if view is not None:
        payload["view"] = view
        payload["container"] = {"type": "view", "view_id": view.get("id")}
    return payload


def view_submission(
    *, view: dict[str, Any], values: dict[str, Any], team_id: str, domain: str, app_id: str,
    user_id: str, user_name: str, trigger_id: str, response_urls: list[dict[str, Any]],
) -> dict[str, Any]:  # fmt: skip
    return {
        "type": "view_submission", "team": _team(team_id, domain),
        "user": _user(user_id, user_name, team_id), "api_app_id": app_id,
        "token": "verification-token-unused", "trigger_id": trigger_id,
        "view": {**view, "state": {"values": values}}, "response_urls": response_urls,
    }  # fmt: skip


def view_closed(
    *, view: dict[str, Any], team_id: str, domain: str, app_id: str, user_id: str,
    user_name: str,
) -> dict[str, Any]:  # fmt: skip
    return {
        "type": "view_closed", "team": _team(team_id, domain),
        "user": _user(user_id, user_name, team_id), "api_app_id": app_id,
        "token": "verification-token-unused", "view": view, "is_cleared": False,
    }  # fmt: skip


def shortcut(
    *, callback_id: str, team_id: str, domain: str, app_id: str, user_id: str, user_name: str,
    trigger_id: str, message: dict[str, Any] | None = None, channel_id: str | None = None,
    channel_name: str | None = None, response_url: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """A global shortcut, or with ``message`` a message shortcut (``message_action``)."""
    payload: dict[str, Any] = {
        "type": "shortcut" if message is None else "message_action",
        "callback_id": callback_id, "team": _team(team_id, domain),
        "user": _user(user_id, user_name, team_id), "api_app_id": app_id,
        "token": "verification-token-unused", "trigger_id": trigger_id,
        "action_ts": f"{time.time():.6f}",
    }  # fmt: skip
    if message is not None:
        payload["message"] = message
        payload["message_ts"] = message.get("ts")
        payload["channel"] = {"id": channel_id, "name": channel_name}
        payload["response_url"] = response_url
    return payload


def block_suggestion(
    *, action_id: str, block_id: str, value: str, team_id: str, domain: str, app_id: str,
    user_id: str, user_name: str, view: dict[str, Any] | None = None,
) -> dict[str, Any]:  # fmt: skip
    payload: dict[str, Any] = {
        "type": "block_suggestion", "action_id": action_id, "block_id": block_id,
        "value": value, "team": _team(team_id, domain),
        "user": _user(user_id, user_name, team_id), "api_app_id": app_id,
        "token": "verification-token-unused",
    }  # fmt: skip
    if view is not None:
        payload["view"] = view
        payload["container"] = {"type": "view", "view_id": view.get("id")}
    return payload

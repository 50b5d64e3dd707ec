"""The Web API methods of the stand-in: functions of the state and one request.

Each method takes the request's merged parameters (query string, form or JSON body, as
Slack accepts them) and the workspace the bearer token belongs to, and returns Slack's
answer: ``{"ok": true, ...}`` or ``{"ok": false, "error": code}``, always with HTTP 200
(Slack's convention; only rate limiting is an HTTP status, 429, decided in
``server.py``). Error codes are the ones Slack documents for each method.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .state import Message, StandInState, Team, View, new_id

__all__ = ["METHODS", "TIERS", "ApiError", "WebApi"]

#: Slack's rate-limit tier of each method the stand-in serves (docs: Web API rate
#: limits). ``"special"``: chat.postMessage, about one per second per channel.
TIERS: dict[str, str] = {
    "auth.test": "special",
    "apps.connections.open": "1",
    "chat.postMessage": "special",
    "chat.postEphemeral": "4",
    "chat.update": "3",
    "chat.delete": "3",
    "reactions.add": "3",
    "reactions.remove": "2",
    "views.open": "4",
    "views.update": "4",
    "views.push": "4",
    "users.info": "4",
    "conversations.info": "3",
    "chat.meMessage": "3",
    "users.conversations": "3",
}
METHODS = tuple(TIERS)

MAX_TEXT = 40_000  # characters; beyond it chat.postMessage answers msg_too_long


class ApiError(Exception):
    """Answered as ``{"ok": false, "error": code}``."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


Params = dict[str, Any]


def _str(params: Params, key: str, error: str) -> str:
    value = params.get(key)
    if value is None or value == "":
        raise ApiError(error)
    return str(value)


def _json_field(params: Params, key: str) -> Any:
    """A structured argument: JSON bodies carry it as is, forms as a JSON string."""
    value = params.get(key)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise ApiError("invalid_arguments") from None
    return value


class WebApi:
    def __init__(self, state: StandInState, open_link: Callable[[], str]) -> None:
        self.state = state
        self._open_link = open_link
        self.echo: Callable[[Team, Message], None] | None = None  # see SlackStandIn

    def call(self, method: str, params: Params, token: str | None) -> dict[str, Any]:
        """Slack's answer to ``method`` (never raises for a Slack-level error)."""
        handler = getattr(self, "m_" + method.replace(".", "_"), None)
        if method not in TIERS or handler is None:
            return {"ok": False, "error": "unknown_method"}
        try:
            if method == "apps.connections.open":
                self._app_auth(token)
                return dict(handler(params, None))
            return dict(handler(params, self._bot_auth(token)))
        except ApiError as exc:
            return {"ok": False, "error": exc.code}

    def _app_auth(self, token: str | None) -> None:
        if not token:
            raise ApiError("not_authed")
        if token.startswith("xoxb-"):
            raise ApiError("not_allowed_token_type")
        if token != self.state.app_token:
            raise ApiError("invalid_auth")

    def _bot_auth(self, token: str | None) -> Team:
        if not token:
            raise ApiError("not_authed")
        if token.startswith("xapp-"):
            raise ApiError("not_allowed_token_type")
        team = self.state.team_of_token(token)
        if team is None:
            raise ApiError("invalid_auth")
        return team

    def _channel(self, team: Team, params: Params, key: str = "channel") -> str:
        wanted = _str(params, key, "channel_not_found")
        if wanted in team.channels:
            return wanted
        if wanted in team.users:  # a user id: their DM with the bot
            return wanted
        name = wanted.lstrip("#")
        for channel in team.channels.values():
            if channel.name == name:
                return channel.id
        raise ApiError("channel_not_found")

    def _message(self, team: Team, params: Params, ts_key: str) -> Message:
        channel = self._channel(team, params)
        ts = _str(params, ts_key, "message_not_found")
        found = self.state.messages.get((channel, ts))
        if found is None:
            raise ApiError("message_not_found")
        return found

    # -- methods (m_<method with _ for .>) -----------------------------------------------

    def m_auth_test(self, params: Params, team: Team) -> Params:
        return {"ok": True, "url": f"https://{team.domain}.slack.com/", "team": team.domain,
                "user": team.bot_user.name, "team_id": team.id, "user_id": team.bot_user.id,
                "bot_id": team.bot_user.bot_id, "is_enterprise_install": False}  # fmt: skip

    def m_apps_connections_open(self, params: Params, auth: None) -> Params:
        return {"ok": True, "url": self._open_link()}

    def m_chat_postMessage(self, params: Params, team: Team) -> Params:
        channel = self._channel(team, params)
        text = params.get("text")
        blocks = _json_field(params, "blocks")
        if not text and not blocks and not params.get("attachments"):
            raise ApiError("no_text")
        if isinstance(text, str) and len(text) > MAX_TEXT:
            raise ApiError("msg_too_long")
        thread_ts = params.get("thread_ts") or None
        bot = team.bot_user
        message = Message(channel, self.state.next_ts(), str(text or ""), bot.id, bot.bot_id,
                          str(thread_ts) if thread_ts else None, blocks)  # fmt: skip
        self.state.messages[(channel, message.ts)] = message
        if self.echo is not None:
            self.echo(team, message)
        return {"ok": True, "channel": channel, "ts": message.ts, "message": _api_message(message)}

    def m_chat_meMessage(self, params: Params, team: Team) -> Params:
        channel = self._channel(team, params)
        text = _str(params, "text", "no_text")
        bot = team.bot_user
        message = Message(channel, self.state.next_ts(), text, bot.id, bot.bot_id)
        self.state.messages[(channel, message.ts)] = message
        return {"ok": True, "channel": channel, "ts": message.ts}

    def m_chat_postEphemeral(self, params: Params, team: Team) -> Params:
        self._channel(team, params)
        user = _str(params, "user", "user_not_found")
        if user not in team.users:
            raise ApiError("user_not_found")
        if not params.get("text") and not params.get("blocks"):
            raise ApiError("no_text")
        return {"ok": True, "message_ts": self.state.next_ts()}

    def m_chat_update(self, params: Params, team: Team) -> Params:
        message = self._message(team, params, "ts")
        if message.bot_id != team.bot_user.bot_id:
            raise ApiError("cant_update_message")
        if "text" in params:
            message.text = str(params["text"])
        if "blocks" in params:
            message.blocks = _json_field(params, "blocks")
        return {"ok": True, "channel": message.channel, "ts": message.ts, "text": message.text,
                "message": _api_message(message)}  # fmt: skip

    def m_chat_delete(self, params: Params, team: Team) -> Params:
        message = self._message(team, params, "ts")
        if message.bot_id != team.bot_user.bot_id:
            raise ApiError("cant_delete_message")
        del self.state.messages[(message.channel, message.ts)]
        return {"ok": True, "channel": message.channel, "ts": message.ts}

    def m_reactions_add(self, params: Params, team: Team) -> Params:
        if not params.get("channel") or not params.get("timestamp"):
            raise ApiError("no_item_specified")
        message = self._message(team, params, "timestamp")
        name = _str(params, "name", "invalid_name")
        users = message.reactions.setdefault(name, [])
        if team.bot_user.id in users:
            raise ApiError("already_reacted")
        users.append(team.bot_user.id)
        return {"ok": True}

    def m_reactions_remove(self, params: Params, team: Team) -> Params:
        if not params.get("channel") or not params.get("timestamp"):
            raise ApiError("no_item_specified")
        message = self._message(team, params, "timestamp")
        name = _str(params, "name", "invalid_name")
        users = message.reactions.get(name, [])
        if team.bot_user.id not in users:
            raise ApiError("no_reaction")
        users.remove(team.bot_user.id)
        return {"ok": True}

    def _new_view(self, params: Params, team: Team) -> Params:
        error = self.state.take_trigger(_str(params, "trigger_id", "invalid_trigger_id"))
        if error is not None:
            raise ApiError(error)
        view = _view_arg(params)
        record = View(new_id("V"), team.id, view, view.get("external_id"))
        self.state.views[record.id] = record
        return {"ok": True, "view": _api_view(record)}

    def m_views_open(self, params: Params, team: Team) -> Params:
        return self._new_view(params, team)

    def m_views_push(self, params: Params, team: Team) -> Params:
        return self._new_view(params, team)

    def m_views_update(self, params: Params, team: Team) -> Params:
        view_id, external = params.get("view_id"), params.get("external_id")
        if view_id:
            record = self.state.views.get(str(view_id))
        elif external:
            record = next((v for v in self.state.views.values() if v.external_id == external),
                          None)  # fmt: skip
        else:
            raise ApiError("invalid_arguments")
        if record is None or record.team_id != team.id:
            raise ApiError("not_found")
        if params.get("hash") and params["hash"] != record.hash:
            raise ApiError("hash_conflict")
        record.view = _view_arg(params)
        record.hash = View(record.id, team.id, {}).hash
        return {"ok": True, "view": _api_view(record)}

    def m_users_info(self, params: Params, team: Team) -> Params:
        user = team.users.get(_str(params, "user", "user_not_found"))
        if user is None:
            raise ApiError("user_not_found")
        return {"ok": True, "user": user.as_api()}

    def m_users_conversations(self, params: Params, team: Team) -> Params:
        """The stand-in's bot is in every channel of its workspace (not the DMs)."""
        limit = int(params.get("limit") or 100)
        channels = [c.as_api() for c in team.channels.values() if not c.is_im][:limit]
        return {"ok": True, "channels": channels, "response_metadata": {"next_cursor": ""}}

    def m_conversations_info(self, params: Params, team: Team) -> Params:
        channel = team.channels.get(_str(params, "channel", "channel_not_found"))
        if channel is None:
            raise ApiError("channel_not_found")
        return {"ok": True, "channel": channel.as_api()}


def _view_arg(params: Params) -> dict[str, Any]:
    view = _json_field(params, "view")
    if not isinstance(view, dict) or view.get("type") not in ("modal", "home"):
        raise ApiError("invalid_arguments")
    return view


def _api_message(message: Message) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "message", "text": message.text, "ts": message.ts}
    if message.user:
        out["user"] = message.user
    if message.bot_id:
        out["bot_id"] = message.bot_id
    if message.thread_ts:
        out["thread_ts"] = message.thread_ts
    if message.blocks is not None:
        out["blocks"] = message.blocks
    return out


def _api_view(record: View) -> dict[str, Any]:
    return {**record.view, "id": record.id, "team_id": record.team_id, "hash": record.hash,
            "state": {"values": {}}}  # fmt: skip

"""Reply-channel messages to Slack operations. No I/O.

:func:`plan_reply` turns one message a consumer sent on a reply channel, with the
:class:`~.mapping.Target` of that reply channel, into one operation:

* :class:`WebCall`: a Web API method with its arguments (queued by the workspace's
  outbox, ``outbox.py``);
* :class:`Respond`: a post to a ``response_url``;
* :class:`Ack`: the payload of the acknowledgement still being waited for (``acking``);
* :class:`Rejected`: why not (logged and counted, nothing sent);
* :class:`~.chat_replies.Declined`: a chat reply kind Slack cannot do, without a
  fallback (counted ``chat_declined_<kind>``, nothing sent).

The common chat reply (``chat_replies.py`` maps its ``kind``, ``private``,
``thread_id``... to Web API calls); the plain ``{"text": ...}`` does the natural
thing: for a slash command whose acknowledgement is still open it becomes the ack's
payload (Slack shows it to the user at once); for another interaction with a
``response_url`` it is posted there; else it is posted with ``chat.postMessage`` in
the target's channel, in its thread. Explicit actions (``spec.SEND_*``, ``spec.ACK``)
say exactly what to do; missing ``channel``, ``ts``, ``user``, ``trigger_id``,
``view_id`` and ``response_url`` default to the ones the reply channel's event came
with. ``docs/slack.md`` lists every action and key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...chat import is_chat_reply
from . import spec
from .chat_replies import Declined, Invalid, Legacy, plan_chat
from .mapping import Target

__all__ = ["Ack", "Declined", "Rejected", "Respond", "WebCall", "plan_reply"]


@dataclass(frozen=True)
class WebCall:
    method: str
    params: dict[str, Any]
    channel: str | None  # orders and paces it among calls about the same channel
    counter: str | None = None  # counted when queued (a chat reply's fallback)


@dataclass(frozen=True)
class Respond:
    url: str
    body: dict[str, Any]


@dataclass(frozen=True)
class Ack:
    payload: dict[str, Any]


@dataclass(frozen=True)
class Rejected:
    reason: str


Plan = WebCall | Respond | Ack | Rejected | Declined

#: Optional arguments passed through as given (Slack's own names).
_POST_OPTIONS = (
    "attachments", "icon_emoji", "icon_url", "link_names", "metadata", "mrkdwn", "parse",
    "reply_broadcast", "unfurl_links", "unfurl_media", "username",
)  # fmt: skip
_RESPOND_OPTIONS = (
    "response_type", "replace_original", "delete_original", "thread_ts", "attachments", "mrkdwn",
)  # fmt: skip


class _Invalid(Exception):
    pass


def _opt_str(message: dict[str, Any], key: str, default: str | None) -> str | None:
    value = message.get(key, default)
    if value is not None and not isinstance(value, str):
        raise _Invalid(f"{key} must be a string")
    return value or None


def _need(value: str | None, what: str) -> str:
    if not value:
        raise _Invalid(f"no {what}: give one, or reply on a channel whose event had one")
    return value


def _content(message: dict[str, Any], required: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {}
    text, blocks = message.get("text"), message.get("blocks")
    if text is not None:
        if not isinstance(text, str):
            raise _Invalid("text must be a string")
        out["text"] = text
    if blocks is not None:
        if not isinstance(blocks, list):
            raise _Invalid("blocks must be a list")
        out["blocks"] = blocks
    if required and not out.get("text") and not out.get("blocks"):
        raise _Invalid("nothing to send: give text or blocks")
    return out


def _options(message: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {k: message[k] for k in names if k in message}


def plan_reply(message: dict[str, Any], target: Target, acking: bool) -> Plan:
    kind = message.get("type")
    try:
        if is_chat_reply(message):
            return _chat(message, target, acking)
        if kind == spec.ACK:
            if not acking:
                return Rejected("late_ack")
            return Ack({k: v for k, v in message.items() if k != "type"})
        if not isinstance(kind, str) or kind not in spec.ACTION_TYPES:
            raise _Invalid(f"unknown reply type {kind!r}")
        return _action(kind, message, target)
    except _Invalid as exc:
        return Rejected(str(exc))


def _chat(message: dict[str, Any], target: Target, acking: bool) -> Plan:
    try:
        planned = plan_chat(message, target)
    except Invalid as exc:
        raise _Invalid(str(exc)) from None
    if isinstance(planned, Declined):
        return planned
    if isinstance(planned, Legacy):
        return _plain(planned.reply, target, acking)
    channel = planned.params.get("channel")
    return WebCall(planned.method, planned.params, channel, planned.counter)


def _plain(message: dict[str, Any], target: Target, acking: bool) -> Plan:
    content = _content(message)
    if target.command and acking:
        return Ack({**content, **_options(message, ("response_type",))})
    if target.interaction and target.response_url:
        return Respond(target.response_url, {**content, **_options(message, _RESPOND_OPTIONS)})
    return _post(message, target)


def _post(message: dict[str, Any], target: Target) -> WebCall:
    channel = _need(_opt_str(message, "channel", target.channel), "channel")
    params = {"channel": channel, **_content(message), **_options(message, _POST_OPTIONS)}
    thread_ts = _opt_str(message, "thread_ts", target.thread_ts if channel == target.channel
                         else None)  # fmt: skip
    if thread_ts:
        params["thread_ts"] = thread_ts
    return WebCall("chat.postMessage", params, channel)


def _action(kind: str, message: dict[str, Any], target: Target) -> Plan:
    channel = _opt_str(message, "channel", target.channel)
    if kind == spec.SEND_POST:
        return _post(message, target)
    if kind == spec.SEND_EPHEMERAL:
        user = _need(_opt_str(message, "user", target.user_id), "user")
        params = {"channel": _need(channel, "channel"), "user": user, **_content(message)}
        thread_ts = _opt_str(message, "thread_ts", target.thread_ts)
        if thread_ts:
            params["thread_ts"] = thread_ts
        return WebCall("chat.postEphemeral", params, channel)
    if kind == spec.SEND_UPDATE:
        ts = _need(_opt_str(message, "ts", None), "ts")
        params = {"channel": _need(channel, "channel"), "ts": ts, **_content(message)}
        return WebCall("chat.update", params, channel)
    if kind == spec.SEND_DELETE:
        ts = _need(_opt_str(message, "ts", None), "ts")
        return WebCall("chat.delete", {"channel": _need(channel, "channel"), "ts": ts}, channel)
    if kind in (spec.SEND_REACT, spec.SEND_UNREACT):
        name = _need(_opt_str(message, "name", None), "name").strip(":")
        ts = _need(_opt_str(message, "ts", target.message_ts), "ts")
        method = "reactions.add" if kind == spec.SEND_REACT else "reactions.remove"
        params = {"channel": _need(channel, "channel"), "timestamp": ts, "name": name}
        return WebCall(method, params, channel)
    if kind in (spec.SEND_VIEW_OPEN, spec.SEND_VIEW_PUSH, spec.SEND_VIEW_UPDATE):
        view = message.get("view")
        if not isinstance(view, dict):
            raise _Invalid("view must be a dict (a modal's JSON)")
        if kind == spec.SEND_VIEW_UPDATE:
            update: dict[str, Any] = {"view": view, **_options(message, ("hash",))}
            external = _opt_str(message, "external_id", None)
            if external:
                update["external_id"] = external
            else:
                update["view_id"] = _need(_opt_str(message, "view_id", target.view_id), "view_id")
            return WebCall("views.update", update, None)
        trigger = _need(_opt_str(message, "trigger_id", target.trigger_id), "trigger_id")
        method = "views.open" if kind == spec.SEND_VIEW_OPEN else "views.push"
        return WebCall(method, {"trigger_id": trigger, "view": view}, None)
    # spec.SEND_RESPOND, the last of ACTION_TYPES
    url = _need(_opt_str(message, "response_url", target.response_url), "response_url")
    body = {**_content(message, required=False), **_options(message, _RESPOND_OPTIONS)}
    if not body:
        raise _Invalid("nothing to send: give text, blocks or delete_original")
    return Respond(url, body)

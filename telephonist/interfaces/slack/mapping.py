"""From a Slack payload to a layer message and a reply target. No I/O.

Theory of operation
-------------------
Mapping is two pure steps around one lookup the caller does. :func:`lookups` names the
user and channel ids whose display names the message needs (the sender, the channel,
ids mentioned in the text); the caller resolves what it can within a bounded time
(``names.py``: ``users.info``, ``conversations.info``, cached). :func:`map_inbound`
then builds the message of the channel the payload belongs to (``spec.py``) and its
:class:`Target`, which says where replies go:

* events about a channel go to the channel's *conversation* (per team, channel and
  thread), so ``{"text": ...}`` posts where the message came from, in its thread;
* commands and interactions get a reply channel of their own (``interaction``), with
  the ``response_url``, ``trigger_id`` and view they came with, and may answer in the
  acknowledgement.

Chat events (messages, edits, deletes, reactions, joins: ``chat_events.py``) carry the
common chat contract's keys. The bot's own messages (``user``/``bot_id`` from
``auth.test``) are skipped, other bots' too unless ``deliver_bots``; skips come back as
:class:`Skip` with the counter name. An unresolved name falls back to the id: mapping
never fails for want of one, nor for a key of the wrong type (a payload is untrusted).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import spec
from .chat_events import Who, as_list, chat_event
from .envelopes import Inbound
from .text import mentioned_ids, render

__all__ = ["Bot", "Lookups", "Mapped", "Names", "Skip", "Target", "lookups", "map_inbound"]


@dataclass(frozen=True)
class Target:
    team: str
    channel: str | None
    thread_ts: str | None = None
    interaction: bool = False
    command: bool = False  # a plain {"text"} first reply is the ack's payload
    user_id: str | None = None
    message_ts: str | None = None
    response_url: str | None = None
    trigger_id: str | None = None
    view_id: str | None = None


@dataclass(frozen=True)
class Lookups:
    team: str
    users: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Names:
    users: Mapping[str, str] = field(default_factory=dict)
    channels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Bot:
    user_id: str
    bot_id: str | None


@dataclass(frozen=True)
class Mapped:
    channel: str
    message: dict[str, Any]
    target: Target


@dataclass(frozen=True)
class Skip:
    reason: str  # a counter name


def _s(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def team_of(inbound: Inbound) -> str:
    p = inbound.payload
    return (_s(p.get("team_id")) or _s(_d(p.get("team")).get("id"))
            or _s(_d(p.get("user")).get("team_id")) or "")  # fmt: skip


def _event_ids(event: dict[str, Any]) -> tuple[set[str], set[str]]:
    users, channels = mentioned_ids(_s(event.get("text")) or "")
    for key in ("user", "item_user"):
        if _s(event.get(key)):
            users.add(event[key])
    for inner in (_d(event.get("message")), _d(event.get("previous_message"))):
        more_users, more_channels = mentioned_ids(_s(inner.get("text")) or "")
        users |= more_users | {u for u in [_s(inner.get("user"))] if u}
        channels |= more_channels
    channel = _s(event.get("channel")) or _s(_d(event.get("item")).get("channel"))
    if channel:
        channels.add(channel)
    return users, channels


def lookups(inbound: Inbound) -> Lookups:
    p = inbound.payload
    if inbound.kind == "event":
        users, channels = _event_ids(_d(p.get("event")))
    elif inbound.kind == "command":
        users, channels = mentioned_ids(_s(p.get("text")) or "")
        users |= {u for u in [_s(p.get("user_id"))] if u}
    else:
        users = {u for u in [_s(_d(p.get("user")).get("id"))] if u}
        channels = set()
    return Lookups(team_of(inbound), frozenset(users), frozenset(channels))


def _base(kind: str, inbound: Inbound, team: str) -> dict[str, Any]:
    return {"type": kind, "team": team, "retry_attempt": inbound.retry_attempt,
            "retry_reason": inbound.retry_reason}  # fmt: skip


def map_inbound(inbound: Inbound, names: Names, bot: Bot | None, deliver_bots: bool
                ) -> Mapped | Skip:  # fmt: skip
    team = team_of(inbound)
    if inbound.kind == "event":
        return _event(inbound, team, names, bot, deliver_bots)
    if inbound.kind == "command":
        return _command(inbound, team, names)
    return _interaction(inbound, team, names)


def _who(user_id: str | None, names: Names, fallback: Any = None) -> str:
    return (user_id and names.users.get(user_id)) or _s(fallback) or user_id or ""


def _event(inbound: Inbound, team: str, names: Names, bot: Bot | None, deliver_bots: bool
           ) -> Mapped | Skip:  # fmt: skip
    p = inbound.payload
    event = _d(p.get("event"))
    ids = {"event_id": p.get("event_id"), "event_time": p.get("event_time")}
    who = Who(names.users, names.channels, bot.user_id if bot else None,
              bot.bot_id if bot else None, deliver_bots)  # fmt: skip
    found = chat_event(event, who)
    if isinstance(found, str):
        return Skip(found)
    if found is not None:
        message = {**_base(found.channel, inbound, team), **found.keys, **ids}
        channel = _s(message.get("channel"))
        target = Target(team, channel, found.thread_ts, user_id=found.user_id,
                        message_ts=found.ts)  # fmt: skip
        return Mapped(found.channel, message, target)
    about = _s(event.get("channel"))
    message = {**_base(spec.EVENT, inbound, team), "event_type": _s(event.get("type")) or "",
               "subtype": _s(event.get("subtype")), "user_id": _s(event.get("user")),
               "channel": about, "event": event, **ids}  # fmt: skip
    return Mapped(spec.EVENT, message, Target(team, about))


def _command(inbound: Inbound, team: str, names: Names) -> Mapped:
    p = inbound.payload
    user_id = _s(p.get("user_id"))
    channel = _s(p.get("channel_id"))
    raw = _s(p.get("text")) or ""
    message = {**_base(spec.COMMAND, inbound, team), "command": _s(p.get("command")) or "",
               "text": render(raw, names.users, names.channels), "raw_text": raw,
               "user": _who(user_id, names, p.get("user_name")), "user_id": user_id or "",
               "user_name": _s(p.get("user_name")) or "", "channel": channel,
               "room": _s(p.get("channel_name")) or (channel and names.channels.get(channel))
               or channel, "response_url": _s(p.get("response_url")),
               "trigger_id": _s(p.get("trigger_id")), "api_app_id": _s(p.get("api_app_id")),
               "enterprise_id": _s(p.get("enterprise_id"))}  # fmt: skip
    target = Target(team, channel, interaction=True, command=True, user_id=user_id,
                    response_url=message["response_url"],
                    trigger_id=message["trigger_id"])  # fmt: skip
    return Mapped(spec.COMMAND, message, target)


def _interaction(inbound: Inbound, team: str, names: Names) -> Mapped:
    p = inbound.payload
    kind = _s(p.get("type")) or ""
    user = _d(p.get("user"))
    user_id = _s(user.get("id"))
    view = _d(p.get("view"))
    view_id = _s(view.get("id"))
    channel = _s(_d(p.get("channel")).get("id"))
    msg = _d(p.get("message"))
    container = _d(p.get("container"))
    message_ts = _s(container.get("message_ts")) or _s(msg.get("ts")) or _s(p.get("message_ts"))
    response_url = _s(p.get("response_url"))
    urls = [u for u in as_list(p.get("response_urls")) if isinstance(u, dict)]
    if response_url is None and urls:
        response_url, channel = _s(urls[0].get("response_url")), _s(urls[0].get("channel_id"))
    common = {"user": _who(user_id, names, user.get("name") or user.get("username")),
              "user_id": user_id or "", "trigger_id": _s(p.get("trigger_id"))}  # fmt: skip
    room = _s(_d(p.get("channel")).get("name")) or channel
    message: dict[str, Any]
    if kind == "block_actions":
        channel_name, message = spec.ACTION, {
            "actions": [a for a in as_list(p.get("actions")) if isinstance(a, dict)],
            "channel": channel, "room": room, "message_ts": message_ts,
            "message": msg or None, "view": view or None, "container": container,
            "state": _d(p.get("state")) or None, "response_url": response_url}  # fmt: skip
    elif kind in ("shortcut", "message_action"):
        channel_name, message = spec.SHORTCUT, {
            "kind": "global" if kind == "shortcut" else "message",
            "callback_id": _s(p.get("callback_id")) or "", "channel": channel, "room": room,
            "message_ts": message_ts, "message": msg or None,
            "response_url": response_url}  # fmt: skip
    elif kind in ("view_submission", "view_closed"):
        channel_name, message = spec.VIEW, {
            "kind": "submission" if kind == "view_submission" else "closed",
            "callback_id": _s(view.get("callback_id")) or "", "view_id": view_id,
            "external_id": _s(view.get("external_id")), "view": view,
            "values": _d(_d(view.get("state")).get("values")),
            "private_metadata": _s(view.get("private_metadata")) or "",
            "response_urls": urls, "is_cleared": p.get("is_cleared") is True}  # fmt: skip
    elif kind == "block_suggestion":
        channel_name, message = spec.OPTIONS, {
            "action_id": _s(p.get("action_id")) or "", "block_id": _s(p.get("block_id")) or "",
            "value": p.get("value") if isinstance(p.get("value"), str) else "",
            "view_id": view_id, "container": container}  # fmt: skip
    else:
        channel_name, message = spec.EVENT, {"event_type": kind, "subtype": None,
                                             "channel": channel, "event": p}  # fmt: skip
    message = {**_base(channel_name, inbound, team), **common, **message}
    target = Target(team, channel, _s(msg.get("thread_ts")), interaction=True, user_id=user_id,
                    message_ts=message_ts, response_url=response_url,
                    trigger_id=common["trigger_id"], view_id=view_id)  # fmt: skip
    return Mapped(channel_name, message, target)

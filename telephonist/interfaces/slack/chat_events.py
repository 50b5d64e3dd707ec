"""Slack events in the common chat contract (``telephonist.chat``). No I/O.

Theory of operation
-------------------
:func:`chat_event` reads one Events API ``event`` and says which chat event it is:
the channel it goes to (``spec.py``), the contract keys (``make_event``) and the
Slack message's own fields, or a :class:`~.mapping.Skip` reason. ``mapping.py`` adds
the keys every Slack event has and the reply target. Slack to contract (channel: kind):

* ``message`` (plain, ``thread_broadcast``, ``file_share``): ``slack.message``: ``message``;
* ``message`` subtype ``me_message`` (``/me``): ``slack.message``: ``action``;
* subtypes ``message_changed``, ``message_deleted``, ``channel_topic``:
  ``slack.message``: ``edit``, ``delete``, ``topic``;
* ``app_mention``: ``slack.app_mention``: ``message``;
* ``reaction_added`` / ``reaction_removed``: ``slack.reaction``: ``reaction``;
* ``member_joined_channel`` / ``member_left_channel``: ``slack.join`` / ``slack.leave``.

``message_id`` is the message's ``ts``; ``thread_id`` and ``reply_to`` are its
``thread_ts`` (a reply in a thread answers the thread's parent); an edit or delete
names the changed message's ``ts``; a reaction's ``reply_to`` is the reacted-to
``ts``. ``is_direct`` is a direct message (``im``). The bot's own messages, edits and
deletes are never delivered; its own joins are (``is_self``: that is how a bridge
learns which channels it is in). An edit that changes no text (Slack sends one for
every link preview) is skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ...chat import EventKind, make_event
from . import spec
from .emoji import emoji_of
from .text import mentioned_ids, render

__all__ = ["ChatEventOut", "Who", "as_list", "chat_event"]


@dataclass(frozen=True)
class ChatEventOut:
    channel: str
    keys: dict[str, Any]  # contract keys plus the Slack message's own
    thread_ts: str | None  # of the conversation it belongs to
    user_id: str | None
    ts: str | None


def _s(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """``value`` if Slack sent a list there (a payload is untrusted input), else ``[]``."""
    return value if isinstance(value, list) else []


def _stamp(ts: str | None) -> float | None:
    try:
        return float(ts) if ts else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Who:
    """What mapping knows: display names, and the bot (``None``: not known yet)."""

    users: Mapping[str, str]
    channels: Mapping[str, str]
    bot_user: str | None
    bot_id: str | None
    deliver_bots: bool


def _name(user_id: str | None, who: Who, fallback: Any = None) -> str:
    return (user_id and who.users.get(user_id)) or _s(fallback) or user_id or ""


def _room(channel: str, channel_type: str, user: str, who: Who) -> str:
    return who.channels.get(channel) or (user if channel_type == "im" else channel)


def _own(who: Who, user_id: str | None, bot_id: str | None) -> bool:
    return (who.bot_user is not None and user_id == who.bot_user) or (
        who.bot_id is not None and bot_id == who.bot_id
    )


def chat_event(event: dict[str, Any], who: Who) -> ChatEventOut | str | None:
    """The chat event of ``event``; a skip reason (a counter name); ``None`` when it is
    no chat event (it goes to ``slack.event``)."""
    kind = _s(event.get("type")) or ""
    subtype = _s(event.get("subtype"))
    if kind in ("message", "app_mention") and subtype in spec.CHAT_SUBTYPES:
        return _said(event, kind, who)
    if kind == "message" and subtype == "message_changed":
        return _changed(event, who)
    if kind == "message" and subtype == "message_deleted":
        return _deleted(event, who)
    if kind == "message" and subtype == "channel_topic":
        return _said(event, kind, who, "topic")
    if kind in ("reaction_added", "reaction_removed"):
        return _reaction(event, kind == "reaction_removed", who)
    if kind in ("member_joined_channel", "member_left_channel"):
        return _membership(event, kind == "member_joined_channel", who)
    return None


def _contract(kind: EventKind, channel: str, channel_type: str, user_id: str | None,
              user: str, who: Who, **keys: Any) -> dict[str, Any]:  # fmt: skip
    return dict(
        make_event(
            "slack",
            kind,
            room=_room(channel, channel_type, user, who),
            room_id=channel,
            user=user,
            user_id=user_id or "",
            is_direct=channel_type == "im",
            **keys,
        )
    )


def _said(event: dict[str, Any], kind: str, who: Who, as_kind: str | None = None
          ) -> ChatEventOut | str:  # fmt: skip
    user_id, bot_id = _s(event.get("user")), _s(event.get("bot_id"))
    subtype = _s(event.get("subtype"))
    if _own(who, user_id, bot_id):
        return "ignored_own"
    if (bot_id or subtype == "bot_message") and not who.deliver_bots:
        return "ignored_bot"
    channel = _s(event.get("channel")) or ""
    channel_type = _s(event.get("channel_type")) or ("channel" if kind == "app_mention" else "")
    user = _name(user_id, who, event.get("username")) or (bot_id or "")
    raw = _s(event.get("text")) or ""
    ts, thread_ts = _s(event.get("ts")), _s(event.get("thread_ts"))
    parent = thread_ts if thread_ts and thread_ts != ts else None
    mentioned = sorted(mentioned_ids(raw)[0])
    text = render(raw, who.users, who.channels)
    chat_kind: EventKind = "action" if subtype == "me_message" else "message"
    if as_kind == "topic":
        chat_kind, text = "topic", _s(event.get("topic")) or text
    keys = _contract(
        chat_kind, channel, channel_type, user_id or bot_id, user, who, text=text,
        is_bot=bool(bot_id), message_id=ts, thread_id=parent, reply_to=parent,
        mentions=[who.users.get(u, u) for u in mentioned], timestamp=_stamp(ts),
    )  # fmt: skip
    keys.update(raw_text=raw, channel=channel, channel_type=channel_type, ts=ts or "",
                thread_ts=thread_ts, subtype=subtype, bot_id=bot_id,
                files=[f for f in as_list(event.get("files")) if isinstance(f, dict)])  # fmt: skip
    out = spec.MESSAGE if kind == "message" else spec.APP_MENTION
    return ChatEventOut(out, keys, thread_ts, user_id, ts)


def _changed(event: dict[str, Any], who: Who) -> ChatEventOut | str:
    new, old = _d(event.get("message")), _d(event.get("previous_message"))
    user_id, bot_id = _s(new.get("user")), _s(new.get("bot_id"))
    if _own(who, user_id, bot_id):
        return "ignored_own"
    if bot_id and not who.deliver_bots:
        return "ignored_bot"
    raw = _s(new.get("text")) or ""
    if old and raw == (_s(old.get("text")) or ""):
        return "ignored_unchanged"  # an unfurl, or a change to something else
    channel = _s(event.get("channel")) or ""
    channel_type = _s(event.get("channel_type")) or ""
    user = _name(user_id, who)
    ts, thread_ts = _s(new.get("ts")), _s(new.get("thread_ts"))
    parent = thread_ts if thread_ts and thread_ts != ts else None
    keys = _contract("edit", channel, channel_type, user_id, user, who,
                     text=render(raw, who.users, who.channels), is_bot=bool(bot_id),
                     message_id=ts, thread_id=parent,
                     timestamp=_stamp(_s(event.get("event_ts"))))  # fmt: skip
    keys.update(raw_text=raw, channel=channel, channel_type=channel_type, ts=ts or "",
                thread_ts=thread_ts, subtype="message_changed", bot_id=bot_id,
                previous_text=render(_s(old.get("text")) or "", who.users, who.channels),
                files=[])  # fmt: skip
    return ChatEventOut(spec.MESSAGE, keys, parent, user_id, ts)


def _deleted(event: dict[str, Any], who: Who) -> ChatEventOut | str:
    old = _d(event.get("previous_message"))
    user_id, bot_id = _s(old.get("user")), _s(old.get("bot_id"))
    if _own(who, user_id, bot_id):
        return "ignored_own"
    channel = _s(event.get("channel")) or ""
    channel_type = _s(event.get("channel_type")) or ""
    ts = _s(event.get("deleted_ts")) or _s(old.get("ts"))
    thread_ts = _s(old.get("thread_ts"))
    parent = thread_ts if thread_ts and thread_ts != ts else None
    keys = _contract("delete", channel, channel_type, user_id, _name(user_id, who), who,
                     is_bot=bool(bot_id), message_id=ts, thread_id=parent,
                     timestamp=_stamp(_s(event.get("event_ts"))))  # fmt: skip
    keys.update(raw_text="", channel=channel, channel_type=channel_type, ts=ts or "",
                thread_ts=thread_ts, subtype="message_deleted", bot_id=bot_id,
                files=[])  # fmt: skip
    return ChatEventOut(spec.MESSAGE, keys, parent, user_id, ts)


def _reaction(event: dict[str, Any], removed: bool, who: Who) -> ChatEventOut | str:
    user_id = _s(event.get("user"))
    if _own(who, user_id, None):
        return "ignored_own"
    item = _d(event.get("item"))
    channel = _s(item.get("channel")) or ""
    name = _s(event.get("reaction")) or ""
    emoji = emoji_of(name)
    ts = _s(item.get("ts"))
    keys = _contract("reaction", channel, "", user_id, _name(user_id, who), who, text=emoji,
                     reply_to=ts, timestamp=_stamp(_s(event.get("event_ts"))))  # fmt: skip
    keys["emoji"] = emoji
    if removed:
        keys["removed"] = True
    keys.update(added=not removed, reaction=name, item_user_id=_s(event.get("item_user")),
                channel=channel or None, ts=ts, item=item,
                event_ts=_s(event.get("event_ts")))  # fmt: skip
    return ChatEventOut(spec.REACTION, keys, None, user_id, ts)


def _membership(event: dict[str, Any], joined: bool, who: Who) -> ChatEventOut:
    user_id = _s(event.get("user"))
    channel = _s(event.get("channel")) or ""
    channel_type = {"C": "channel", "G": "group"}.get(_s(event.get("channel_type")) or "", "")
    keys = _contract("join" if joined else "leave", channel, channel_type, user_id,
                     _name(user_id, who), who, is_self=_own(who, user_id, None),
                     timestamp=_stamp(_s(event.get("event_ts"))))  # fmt: skip
    keys.update(channel=channel, channel_type=channel_type, inviter=_s(event.get("inviter")))
    return ChatEventOut(spec.JOIN if joined else spec.LEAVE, keys, None, user_id, None)

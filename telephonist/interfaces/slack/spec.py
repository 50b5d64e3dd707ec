"""The Slack message spec in code: channel names, event and action shapes (``docs/slack.md``).

Slack has no prior ASGI spec; this one follows the project's conventions. Every event's
``type`` is its channel name; message events carry the common chat keys ``text``,
``user`` and ``room`` so ``ChatConsumer`` answers Slack like any chat protocol. Actions
a consumer sends on a reply channel have ``slack.send.*`` types (an event echoed back is
never mistaken for an action), plus the common chat reply ``{"text": ...}`` with no type
and ``slack.ack``, the answer that rides on Slack's acknowledgement.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

__all__ = [
    "ACK",
    "ACTION",
    "ACTION_TYPES",
    "APP_MENTION",
    "COMMAND",
    "EVENT",
    "EVENT_CHANNELS",
    "JOIN",
    "LEAVE",
    "MESSAGE",
    "OPTIONS",
    "REACTION",
    "SHORTCUT",
    "VIEW",
    "MessageEvent",
]

MESSAGE = "slack.message"
APP_MENTION = "slack.app_mention"
REACTION = "slack.reaction"
COMMAND = "slack.command"
ACTION = "slack.action"
SHORTCUT = "slack.shortcut"
VIEW = "slack.view"
OPTIONS = "slack.options"
EVENT = "slack.event"
JOIN = "slack.join"
LEAVE = "slack.leave"

EVENT_CHANNELS = (MESSAGE, APP_MENTION, REACTION, JOIN, LEAVE, COMMAND, ACTION, SHORTCUT, VIEW,
                  OPTIONS, EVENT)  # fmt: skip

SEND_POST = "slack.send.post"
SEND_EPHEMERAL = "slack.send.ephemeral"
SEND_UPDATE = "slack.send.update"
SEND_DELETE = "slack.send.delete"
SEND_REACT = "slack.send.react"
SEND_UNREACT = "slack.send.unreact"
SEND_VIEW_OPEN = "slack.send.view.open"
SEND_VIEW_UPDATE = "slack.send.view.update"
SEND_VIEW_PUSH = "slack.send.view.push"
SEND_RESPOND = "slack.send.respond"
ACK = "slack.ack"

ACTION_TYPES = (SEND_POST, SEND_EPHEMERAL, SEND_UPDATE, SEND_DELETE, SEND_REACT, SEND_UNREACT,
                SEND_VIEW_OPEN, SEND_VIEW_UPDATE, SEND_VIEW_PUSH, SEND_RESPOND, ACK)  # fmt: skip

#: Message subtypes that are someone saying something (``kind`` ``message``, or ``action``
#: for ``me_message``). ``message_changed``, ``message_deleted`` and ``channel_topic``
#: are on ``slack.message`` too, as ``edit``, ``delete`` and ``topic``
#: (``chat_events.py``); the others (``channel_join``, which ``member_joined_channel``
#: also says, ...) go to ``slack.event``.
CHAT_SUBTYPES = (None, "thread_broadcast", "file_share", "me_message", "bot_message")


class Common(TypedDict):
    """Keys of every Slack event message."""

    type: str
    team: str  # workspace id (T...)
    retry_attempt: int  # 0 for a first delivery
    retry_reason: str  # "" for a first delivery; Slack's reason on a retry
    reply_channel: NotRequired[str]  # added by the interface server
    order: NotRequired[int]


class MessageEvent(Common):
    """``slack.message`` and ``slack.app_mention``: the common chat contract's keys
    (``telephonist.chat.ChatEvent``: ``kind``, ``room_id``, ``is_direct``,
    ``message_id``, ``thread_id``, ``reply_to``, ``mentions``, ``protocol``,
    ``timestamp``, ...) and these."""

    text: str  # readable: mentions and links rendered (common chat key)
    raw_text: str  # as Slack sent it
    user: str  # display name (common chat key)
    user_id: str
    room: str  # channel name, or the other person's name in a DM (common chat key)
    channel: str  # channel id (C.../G.../D...)
    channel_type: str  # "channel", "group", "im" or "mpim"
    ts: str
    thread_ts: str | None  # the thread's parent ts; None outside threads
    subtype: str | None
    bot_id: str | None
    files: list[dict[str, Any]]
    event_id: str
    event_time: int

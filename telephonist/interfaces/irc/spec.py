"""The IRC message spec in code: channel names, event and action shapes (``docs/irc.md``).

Inbound events go to the ``irc-client.*`` channels below, starting from the 2017 ASGI
``irc-client`` draft (``connect``, ``join``, ``receive`` with a message kind) and
completed with the membership events a bot needs. Every event's ``type`` is its channel
name. Actions that consumers send on a reply channel have ``irc-client.send.*`` types so
an event can never be mistaken for an action (echoing an event back does nothing), plus
the common chat reply ``{"text": ...}`` with no type.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

from ...chat import REPLY_TYPES

__all__ = [
    "ACTION_TYPES",
    "CHAT_TYPES",
    "CONNECT",
    "DISCONNECT",
    "EVENT_CHANNELS",
    "INVITE",
    "JOIN",
    "KICK",
    "NICK",
    "PART",
    "QUIT",
    "RECEIVE",
    "TOPIC",
    "MessageEvent",
]

CONNECT = "irc-client.connect"
DISCONNECT = "irc-client.disconnect"
RECEIVE = "irc-client.receive"
JOIN = "irc-client.join"
PART = "irc-client.part"
KICK = "irc-client.kick"
QUIT = "irc-client.quit"
NICK = "irc-client.nick"
INVITE = "irc-client.invite"
TOPIC = "irc-client.topic"

EVENT_CHANNELS = (CONNECT, DISCONNECT, RECEIVE, JOIN, PART, KICK, QUIT, NICK, INVITE, TOPIC)

SEND_MESSAGE = "irc-client.send.message"
SEND_NOTICE = "irc-client.send.notice"
SEND_ACTION = "irc-client.send.action"
SEND_JOIN = "irc-client.send.join"
SEND_PART = "irc-client.send.part"
SEND_NICK = "irc-client.send.nick"
SEND_TOPIC = "irc-client.send.topic"
SEND_KICK = "irc-client.send.kick"
SEND_QUIT = "irc-client.send.quit"

ACTION_TYPES = (
    SEND_MESSAGE,
    SEND_NOTICE,
    SEND_ACTION,
    SEND_JOIN,
    SEND_PART,
    SEND_NICK,
    SEND_TOPIC,
    SEND_KICK,
    SEND_QUIT,
)

#: Types (besides none at all) under which the common chat reply ``{"text": ...}`` is
#: accepted, so a chat consumer written for another protocol works unchanged.
CHAT_TYPES = REPLY_TYPES


class _Sender(TypedDict):
    network: str
    user: str  # the sender's nick (common chat key)
    nick: str
    ident: str
    host: str
    tags: NotRequired[dict[str, str]]
    time: NotRequired[str]
    reply_channel: NotRequired[str]  # stamped by the host
    order: NotRequired[int]


class MessageEvent(_Sender):
    """``irc-client.receive``: a PRIVMSG, NOTICE or CTCP ACTION from someone else."""

    type: Literal["irc-client.receive"]
    kind: Literal["message", "notice", "action"]
    text: str
    room: str  # the channel, or the sender's nick in private
    target: str  # as sent: the channel, or our nick
    private: bool


class MembershipEvent(_Sender):
    """``irc-client.join`` / ``part`` / ``kick`` / ``topic`` / ``invite``: about ``room``."""

    type: str
    room: str
    self: bool  # the event is about us (we joined, we were kicked, ...)
    reason: NotRequired[str]  # part, kick
    kicked: NotRequired[str]  # kick
    topic: NotRequired[str]  # topic


class NetworkEvent(TypedDict):
    """``irc-client.connect`` / ``disconnect`` / ``quit`` / ``nick``: network-wide."""

    type: str
    network: str
    server: NotRequired[list[str | int]]
    reason: NotRequired[str]
    user: NotRequired[str]
    nick: NotRequired[str]
    new_nick: NotRequired[str]
    self: NotRequired[bool]
    reply_channel: NotRequired[str]
    order: NotRequired[int]

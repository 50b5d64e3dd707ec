"""The common chat reply (``telephonist.chat.ChatReply``) as Slack Web API calls. No I/O.

Theory of operation
-------------------
:func:`plan_chat` checks a chat reply (``validate_reply``) and maps each ``kind``:

==================  ==========================================================
``message``         ``chat.postMessage`` (``thread_id``, else ``reply_to``, else the
                    conversation's thread, as ``thread_ts``); a command's first reply
                    rides on the ack, an interaction's goes to its ``response_url``
``notice``          ``chat.postMessage`` (Slack has no notices)
``action``          the bot's own: ``chat.meMessage``; a relayed one is posted
                    ``[irc] * ann waves``
``edit``            ``chat.update`` of ``message_id`` (Slack lets a bot change only its
                    own messages: another's is refused, ``api_error.cant_update_message``)
``delete``          ``chat.delete`` of ``message_id`` (same rule)
``reaction``        ``reactions.add`` / ``reactions.remove`` (``removed``) on
                    ``reply_to``, when the emoji has a Slack name (``emoji.py``)
==================  ==========================================================

``private`` sends a message to one person alone: in a direct conversation that is the
conversation itself; in a channel, an ephemeral message (``chat.postEphemeral``) to
``to``, a Slack user id or a display name the interface has seen (``interface.py``
resolves it), else the user of the interaction.

A relayed reply (``user``: someone else's words passed on by a bridge) is attributed on
every line (``[irc] <ann> hi``, ``render.py``) and its text escaped, so a person on
another protocol can neither pass for someone else nor ping ``@channel``. A relayed
reaction with a ``fallback`` is posted as that sentence (``[web] * ann reacted 👍 to
bob: “hi”``): the bot's reaction would not say who reacted. Kinds Slack cannot do
(an emoji without a Slack name) fall back or are declined: :class:`Declined`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ...chat import ChatContractError, ChatReply, fallback_for, rendered_lines, validate_reply
from .emoji import slack_name
from .mapping import Target

__all__ = ["Declined", "Invalid", "plan_chat"]

_KINDS = frozenset({"message", "action", "notice", "edit", "delete", "reaction"})
_SLACK_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")


class Invalid(Exception):
    """The reply cannot be carried out; the text says why."""


@dataclass(frozen=True)
class Declined:
    kind: str


@dataclass(frozen=True)
class ChatCall:
    method: str
    params: dict[str, Any]
    counter: str | None = None  # "chat_fallback_<kind>" when the fallback is sent


@dataclass(frozen=True)
class Legacy:
    """A plain message where the first contract's rules apply (ack, response_url)."""

    reply: dict[str, Any]


def escape(text: str) -> str:
    """Text Slack shows as it is: its three control characters escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def is_slack_id(value: str) -> bool:
    return bool(_SLACK_ID.match(value))


def plan_chat(message: dict[str, Any], target: Target) -> ChatCall | Legacy | Declined:
    """The Web API call for a chat reply on the reply channel of ``target``."""
    if (
        "text" not in message
        and "blocks" in message
        and message.get("kind", "message") == "message"
    ):
        return Legacy(message)  # blocks only: Slack's own message format
    try:
        reply = validate_reply(message)
    except ChatContractError as exc:
        raise Invalid(str(exc)) from None
    kind = reply["kind"]
    supported = set(_KINDS)
    if kind == "reaction" and (slack_name(reply.get("emoji", "")) is None
                               or (reply.get("user") and reply.get("fallback"))):  # fmt: skip
        supported.discard("reaction")
    outcome = fallback_for(reply, supported)
    if outcome.reply is None:
        return Declined(kind)
    reply = outcome.reply
    counter = f"chat_fallback_{kind}" if outcome.fallback else None
    contract = ("user", "private", "thread_id", "reply_to")
    if reply["kind"] == "message" and counter is None and not any(reply.get(k) for k in contract):
        return Legacy({**message, "text": reply["text"]})
    return ChatCall(*_call(reply, message, target, fallback=counter is not None), counter)


def _channel(message: dict[str, Any], target: Target) -> str:
    channel = message.get("channel", target.channel)
    if not isinstance(channel, str) or not channel:
        raise Invalid("no channel: reply on a channel whose event had one")
    return channel


def _text(reply: ChatReply) -> str:
    if reply.get("user"):
        return escape("\n".join(rendered_lines(reply)))
    return reply.get("text", "")


def _call(reply: ChatReply, message: dict[str, Any], target: Target, fallback: bool
          ) -> tuple[str, dict[str, Any]]:  # fmt: skip
    kind = reply["kind"]
    channel = _channel(message, target)
    if kind == "edit":
        return "chat.update", {"channel": channel, "ts": reply["message_id"], "text": _text(reply)}
    if kind == "delete":
        return "chat.delete", {"channel": channel, "ts": reply["message_id"]}
    if kind == "reaction":
        method = "reactions.remove" if reply.get("removed") else "reactions.add"
        name = slack_name(reply.get("emoji", ""))
        return method, {"channel": channel, "timestamp": reply["reply_to"], "name": name}
    params: dict[str, Any] = {"channel": channel, "text": _text(reply)}
    if isinstance(message.get("blocks"), list) and not fallback:
        params["blocks"] = message["blocks"]
    thread = reply.get("thread_id") or target.thread_ts
    if not thread and kind == "message" and not fallback:
        thread = reply.get("reply_to")
    if thread:
        params["thread_ts"] = thread
    if reply.get("private") and not channel.startswith("D"):
        to = reply.get("to") or ""
        user = to or target.user_id
        if not user:
            raise Invalid("a private reply needs 'to' (a Slack user id or a name)")
        return "chat.postEphemeral", {**params, "user": user}
    if kind == "action" and not reply.get("user"):
        params.pop("thread_ts", None)  # Slack's /me has no threads
        params.pop("blocks", None)
        return "chat.meMessage", params
    return "chat.postMessage", params

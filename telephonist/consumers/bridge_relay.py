"""How a bridged message reads on each endpoint. Pure: entries in, replies out.

A message is sent to an endpoint with the ids it has *there* (``Entry.native``): the
web knows every id (they are the bridge's), IRC knows the ids of its own messages. A
reply whose parent the endpoint does not know quotes the parent instead,
``(↪ bob: “first words”) text``. Edits, deletes and reactions come with a ``fallback``
sentence (``reacted 👍 to bob: “hi”``) that protocols without the kind show instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..chat import ChatEvent, excerpt, label, rendered_lines
from .bridge_links import Endpoint
from .bridge_store import Entry, Member

__all__ = ["apply_change", "change_reply", "mail_message", "reply_for", "state_message"]


def reply_for(entry: Entry, index: int, parent: Entry | None) -> dict[str, Any]:
    """``entry`` as sent to endpoint ``index``: its ids there, or readable text."""
    reply: dict[str, Any] = {
        "kind": entry["kind"],
        "text": entry["text"],
        "user": entry["user"],
        "user_id": entry["user_id"],
        "protocol": entry["protocol"],
        "timestamp": entry["timestamp"],
    }
    mine = entry["native"].get(str(index))
    if mine is not None:
        reply["message_id"] = mine
    if entry["thread_id"] and mine == entry["message_id"]:
        reply["thread_id"] = entry["thread_id"]  # the web's ids are the bridge's
    if parent is not None:
        there = parent["native"].get(str(index))
        if there is not None:
            reply["reply_to"] = there
        else:
            quote = f"(↪ {parent['user']}: “{excerpt(parent['text'], 40)}”) "
            reply["text"] = quote + entry["text"]
    return reply


def apply_change(
    target: Entry | None, kind: str, user: str, text: str, emoji: str, removed: bool
) -> str:
    """Apply an edit, delete or reaction to ``target`` (when the bridge knows it); the
    sentence that tells people what happened, for protocols that cannot show it."""
    if target is None:
        return {"edit": f"edited a message: {text}", "delete": "deleted a message"}.get(
            kind, f"reacted {emoji}"
        )
    quote = f"“{excerpt(target['text'], 40)}”"
    if kind == "edit":
        target["text"], target["edited"] = text, True
        return f"edited {quote} → {text}"
    if kind == "delete":
        target["text"], target["deleted"] = "", True
        return f"deleted {quote}"
    who = target["reactions"].setdefault(emoji, [])
    if removed:
        if user in who:
            who.remove(user)
        if not who:
            del target["reactions"][emoji]
        return f"took back {emoji} on {target['user']}: {quote}"
    if user not in who:
        who.append(user)
    return f"reacted {emoji} to {target['user']}: {quote}"


def mail_message(room: str, endpoint: Endpoint, reply: dict[str, Any]) -> dict[str, Any]:
    """The ``email.send`` message that tells a mailbox's ``notify`` list about ``reply``."""
    return {
        "type": "email.send",
        "to": list(endpoint.notify),
        "from_address": endpoint.room,
        "subject": f"{room}: {reply['user']} ({label(reply['protocol'])})",
        "text": "\n".join(rendered_lines(reply)),  # type: ignore[arg-type]
    }


def change_reply(
    event: ChatEvent, user: str, fallback: str, target: Entry | None, there: str | None
) -> dict[str, Any]:
    """An edit, delete or reaction as sent to an endpoint where the changed message has
    the id ``there``: natively with its ``fallback``; as the readable action where the
    endpoint does not know the message."""
    reply: dict[str, Any] = {
        "user": user,
        "user_id": event["user_id"],
        "protocol": event["protocol"],
        "timestamp": event["timestamp"],
    }
    kind = event["kind"]
    if there is None:
        return {**reply, "kind": "action", "text": fallback}
    reply.update(kind=kind, fallback=fallback)
    if kind == "reaction":
        emoji = event.get("emoji", "")
        return {**reply, "emoji": emoji, "reply_to": there, "removed": bool(event.get("removed")),
                "text": emoji}  # fmt: skip
    return {**reply, "message_id": there, "text": target["text"] if target else ""}


def state_message(
    room: str,
    endpoints: Sequence[Endpoint],
    members: list[Member],
    topic: str,
    change: dict[str, Any] | None,
    history: list[Entry] | None,
) -> dict[str, Any]:
    """The ``chat.state`` message web pages get: members, topic, where else the room
    is, what changed, and (on joining) the history without the bridge's id maps."""
    state: dict[str, Any] = {
        "type": "chat.state",
        "room": room,
        "members": members,
        "topic": topic,
        "links": [{"protocol": e.protocol, "room": e.room} for e in endpoints[1:]],
    }
    if change is not None:
        state["change"] = change
    if history is not None:
        state["history"] = [{k: v for k, v in e.items() if k != "native"} for e in history]
    return state

"""How a relayed chat reply reads on text-only protocols. Pure.

A reply with a ``user`` is someone else's words passed on by the bot; a protocol that
carries only text (IRC, a plain WebSocket, linechat, the body of a mail) shows who said
it in front of *every* line, after any splitting too, so that no line of a multi-line or
long message can pass for someone else's: ``[web] <ann> hi``, an action
``[web] * ann waves``, a notice ``[web] -ann- note``.
"""

from __future__ import annotations

from .contract import ChatReply

__all__ = ["PROTOCOL_LABELS", "attribution", "label", "rendered_lines"]

#: How an origin is shown to people: ``[web] <ann> hi`` on IRC, a badge in the browser.
PROTOCOL_LABELS = {
    "websocket": "web",
    "irc": "irc",
    "email": "mail",
    "slack": "slack",
}


def label(protocol: str) -> str:
    """The short origin label of ``protocol`` (``"websocket"`` -> ``"web"``)."""
    return PROTOCOL_LABELS.get(protocol, protocol)


def attribution(reply: ChatReply) -> str:
    """What text-only protocols put in front of every line of a relayed message:
    ``[web] <ann> ``, ``[web] * ann `` (an action), ``[web] -ann- `` (a notice);
    ``""`` when the reply is the bot's own (no ``user``)."""
    user = reply.get("user")
    if not user:
        return ""
    origin = f"[{label(reply['protocol'])}] " if reply.get("protocol") else ""
    kind = reply.get("kind", "message")
    if kind == "action":
        return f"{origin}* {user} "
    if kind == "notice":
        return f"{origin}-{user}- "
    return f"{origin}<{user}> "


def rendered_lines(reply: ChatReply) -> list[str]:
    """A message reply as text lines, each one attributed (a text-only protocol's
    rendering: WebSocket text frames, linechat, the body of a mail)."""
    prefix = attribution(reply) or ("* " if reply.get("kind") == "action" else "")
    return [prefix + line for line in reply.get("text", "").split("\n")]

"""What an interface does with a reply kind it cannot carry out: fall back, or decline.

Theory of operation
-------------------
Protocols differ: IRC has no edits, mail no reactions, a plain WebSocket no threads.
The contract's answer is the same everywhere, so a consumer can rely on it:

1. the interface asks :func:`degrade` with the kinds it supports (they may depend on
   the peer: IRC reactions need the server's ``message-tags``);
2. a supported kind is carried out natively;
3. otherwise, when the reply has a ``fallback`` text, that text is sent instead:
   counter ``chat_fallback_<kind>``. A relayed reply (one with a ``user``) falls back to
   an *action* of its author, so it reads ``[web] * ann reacted 👍 to bob: "hi"``; the
   bot's own falls back to a message. Bridges always give a fallback, so nothing a
   person did is silently lost;
4. otherwise the reply is *declined*: nothing is sent, counter ``chat_declined_<kind>``
   goes up and one warning is logged (at most one per kind per minute per interface,
   then one line with the number of declines in that minute: a chatty bot must not
   flood logs; :class:`telephonist.core.ratelog.RateLimitedLog`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import cast

# The core's: one line per key per minute, then a count of the repeats (re-exported as
# ``telephonist.chat.RateLimitedLog``, the name interface plugins import it by).
from ..core.ratelog import RateLimitedLog
from .contract import ChatReply

__all__ = ["Degraded", "RateLimitedLog", "degrade", "fallback_for"]

Count = Callable[[str], None]


class Degraded:
    """The outcome of :func:`degrade`: the reply to carry out, or ``None`` (declined)."""

    __slots__ = ("fallback", "reply")

    def __init__(self, reply: ChatReply | None, fallback: bool) -> None:
        self.reply = reply
        self.fallback = fallback


def fallback_for(reply: ChatReply, supported: Collection[str]) -> Degraded:
    """The pure part of :func:`degrade`: the reply to carry out (``fallback`` set when it
    is the fallback message) or ``None``; counting and logging are the caller's."""
    kind = reply.get("kind", "message")
    if kind in supported:
        return Degraded(reply, False)
    fallback = reply.get("fallback")
    if fallback:
        keep = {k: v for k, v in reply.items() if k in _KEPT}
        kind = "action" if reply.get("user") else "message"
        return Degraded(cast(ChatReply, {**keep, "kind": kind, "text": fallback}), True)
    return Degraded(None, False)


def degrade(
    reply: ChatReply,
    supported: Collection[str],
    count: Count,
    log: RateLimitedLog,
    where: str = "",
) -> Degraded:
    """``reply`` as it can be carried out given the ``supported`` kinds (see the module
    docstring); counts and logs fallbacks and declines."""
    kind = reply.get("kind", "message")
    outcome = fallback_for(reply, supported)
    if outcome.reply is not None:
        if outcome.fallback:
            count(f"chat_fallback_{kind}")
        return outcome
    count(f"chat_declined_{kind}")
    log.warning(
        f"declined:{kind}",
        "declined a chat %s reply%s: the protocol cannot do it and it has no fallback",
        kind,
        f" for {where}" if where else "",
    )
    return outcome


# What a fallback message keeps of the reply it stands for: where it goes and who said it.
_KEPT = frozenset(
    {"thread_id", "reply_to", "private", "to", "user", "user_id", "protocol", "timestamp"}
)

"""The bot's own joins: which channels it is in, told to consumers at start.

Theory of operation
-------------------
An IRC bot joins its channels and says so (``irc-client.join`` with ``is_self``); that
is how a consumer such as ``ChatBridge`` learns where the bot is and gets each
channel's reply channel before anyone there has spoken. A Slack app is *invited* to
channels instead, and Slack says nothing at connect. So, once a workspace's bot is
known, :func:`announce` asks ``users.conversations`` (one page, at most
``announce_channels`` channels, through the workspace's outbox) and sends one
``slack.join`` per channel, ``is_self`` set, on the channel's conversation reply channel
(``replies.py``). Later invitations arrive as ``member_joined_channel`` events naming
the bot, which map to the same kind of join (``chat_events.py``).

Nothing here blocks the start: it runs as a task, and a failure (Slack unreachable, the
layer full) is one throttled warning and the counter ``announce_failed``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

from ...chat import make_event
from ...core.exceptions import ChannelFull, MessageTooLarge
from . import spec
from .chat_events import as_list
from .logs import Throttled
from .mapping import Bot, Lookups, Target
from .names import NameCache
from .outbox import Outbox
from .replies import ReplyChannels

__all__ = ["announce", "join_message"]


def join_message(team: str, channel: Mapping[str, Any], bot: Bot, bot_name: str) -> dict[str, Any]:
    """The ``slack.join`` of the bot in ``channel`` (a ``users.conversations`` entry)."""
    channel_id = str(channel.get("id", ""))
    name = channel.get("name")
    kind = "group" if channel.get("is_private") else "channel"
    event = make_event("slack", "join", room=name if isinstance(name, str) and name else channel_id,
                       room_id=channel_id, user=bot_name, user_id=bot.user_id, is_self=True,
                       is_bot=True)  # fmt: skip
    return {"type": spec.JOIN, "team": team, "retry_attempt": 0, "retry_reason": "", **event,
            "channel": channel_id, "channel_type": kind, "inviter": None}  # fmt: skip


async def announce(
    team: str, bot: Bot, outbox: Outbox, names: NameCache,
    replies: ReplyChannels, limit: int, within: float, count: Callable[[str], None],
    log: Throttled,
) -> int:  # fmt: skip
    """Send the bot's joins in ``team``; how many were sent."""
    if limit <= 0:
        return 0
    try:
        params = {"types": "public_channel,private_channel", "exclude_archived": True,
                  "limit": limit}  # fmt: skip
        future = outbox.submit("users.conversations", params, answer=True)
        assert future is not None
        answer = await asyncio.wait_for(future, within)
        found = await names.resolve(Lookups(team, frozenset({bot.user_id})), outbox, within)
    except Exception as exc:
        count("announce_failed")
        log(logging.WARNING, "announce", "slack: could not list the bot's channels in %s: %r",
            team, exc)  # fmt: skip
        return 0
    bot_name = found.users.get(bot.user_id, bot.user_id)
    channels = [c for c in as_list(answer.get("channels")) if isinstance(c, dict) and c.get("id")]
    sent = 0
    for channel in channels[:limit]:
        if isinstance(channel.get("name"), str):
            names.put(team, f"c:{channel['id']}", channel["name"])
        target = Target(team, str(channel["id"]))
        connection = await replies.conversation(target)
        message = join_message(team, channel, bot, bot_name)
        try:
            await asyncio.wait_for(replies.send_event(spec.JOIN, message, connection), within)
        except (ChannelFull, MessageTooLarge, TimeoutError, OSError) as exc:
            count("announce_failed")
            log(logging.WARNING, "announce", "slack: could not announce the bot's join of %s: %r",
                channel["id"], exc)  # fmt: skip
            continue
        sent += 1
    count("announced")
    return sent

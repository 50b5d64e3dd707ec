"""Reply channels: one per conversation, one per command or interaction.

Theory of operation
-------------------
A *conversation* is a team's channel, or one thread in it: ``(team, channel,
thread_ts)``. Its reply channel is opened at its first event and kept in
least-recently-used order, at most ``max_conversations``; ``{"text": ...}`` sent there
posts in that channel and thread. It is the ``connection`` of every event of the
conversation, sent as a single-event connection (``last=True``): each event goes
straight onto the layer, never into a host buffer waiting for a worker's bind, because
Slack is told we took an event only once it is on the layer. (So there is no worker
affinity for Slack conversations; Slack does not promise ordering either, and every
event carries its ``ts``.)

With several interface servers (``shared_rooms``), a channel's own conversation (not a
thread, not a direct message) has instead a reply channel every server names alike,
served by the workspace's poster (``rooms.py``): a group that holds it gets each line
to it once, whichever servers took the channel's events. :meth:`ReplyChannels.send_event`
sends an event with either kind.

A command or interaction gets an :class:`Interaction`: a reply channel of its own, open
for ``interaction_window`` seconds (a ``response_url``'s life), at most
``max_interactions`` at once (the oldest close first). While its acknowledgement is
being decided (``acking``), the first reply that plans to an :class:`~.actions.Ack`
resolves ``first_reply`` with the payload; any other first reply resolves it with
``None`` (an empty ack) and is carried out like every later one.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ...core.codec import Content
from ..base import ABORT, InterfaceHost
from .actions import Ack, Plan, plan_reply
from .mapping import Target
from .rooms import SharedRooms, is_room

__all__ = ["Interaction", "ReplyChannels"]

Execute = Callable[[Plan, Target], Awaitable[None]]


@dataclass(eq=False)
class Interaction:
    reply_channel: str
    target: Target
    acking: bool = True
    first_reply: asyncio.Future[dict[str, Any] | None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    timer: asyncio.TimerHandle | None = None

    def settle(self, payload: dict[str, Any] | None) -> None:
        """The acknowledgement is decided: nothing more rides on it."""
        self.acking = False
        if not self.first_reply.done():
            self.first_reply.set_result(payload)


class ReplyChannels:
    def __init__(
        self, host: InterfaceHost, execute: Execute, max_conversations: int,
        max_interactions: int, window: float,
    ) -> None:  # fmt: skip
        self._host = host
        self._execute = execute
        self._max_conversations = max_conversations
        self._max_interactions = max_interactions
        self._window = window
        self._conversations: OrderedDict[tuple[str, str, str | None], str] = OrderedDict()
        self._interactions: OrderedDict[str, Interaction] = OrderedDict()
        #: Set by the interface in a split deployment (``rooms.py``).
        self.shared: SharedRooms | None = None

    def counts(self) -> dict[str, int]:
        return {"conversations": len(self._conversations), "interactions": len(self._interactions)}

    # -- conversations --------------------------------------------------------------------

    async def conversation(self, target: Target) -> str:
        if self.shared is not None and is_room(target):
            return self.shared.room(target)
        key = (target.team, target.channel or "", target.thread_ts)
        found = self._conversations.get(key)
        if found is not None:
            self._conversations.move_to_end(key)
            return found
        reply_target = Target(target.team, target.channel, target.thread_ts)

        async def handle(message: Content) -> None:
            if message.get("type") == ABORT:
                self._forget(key, channel)
                return
            await self._execute(plan_reply(message, reply_target, False), reply_target)

        # As an IRC room: a Slack channel outlives any worker (rebound, never aborted).
        channel = await self._host.open_reply_channel(handle, prefix="slack", rebind=True)
        self._conversations[key] = channel
        while len(self._conversations) > self._max_conversations:
            _, oldest = self._conversations.popitem(last=False)
            self._host.close_reply_channel(oldest)
        return channel

    async def send_event(self, channel: str, message: dict[str, Any], connection: str) -> None:
        """Send an event whose replies go to ``connection``, a conversation's or an
        interaction's reply channel: a single-event connection of this server, or a
        shared room's channel (no affinity to keep: any worker may take it)."""
        if self.shared is not None and self.shared.owns(connection):
            team, user, name = message.get("team"), message.get("user_id"), message.get("user")
            if isinstance(team, str) and isinstance(user, str) and isinstance(name, str):
                await self.shared.seen(team, user, name)  # before any reply can name them
            await self._host.send_event(channel, {**message, "reply_channel": connection})
        else:
            await self._host.send_event(channel, message, connection=connection, last=True)

    def _forget(self, key: tuple[str, str, str | None], channel: str) -> None:
        if self._conversations.get(key) == channel:
            del self._conversations[key]
            self._host.close_reply_channel(channel)

    # -- interactions ---------------------------------------------------------------------

    async def interaction(self, target: Target) -> Interaction:
        holder: list[Interaction] = []

        async def handle(message: Content) -> None:
            session = holder[0]
            if message.get("type") == ABORT:
                self.close(session)
                return
            plan = plan_reply(message, session.target, session.acking)
            if session.acking:
                if isinstance(plan, Ack):
                    session.settle(plan.payload)
                    return
                session.settle(None)
            await self._execute(plan, session.target)

        channel = await self._host.open_reply_channel(handle, prefix="slack")
        session = Interaction(channel, target)
        holder.append(session)
        self._interactions[channel] = session
        loop = asyncio.get_running_loop()
        session.timer = loop.call_later(self._window, self.close, session)
        while len(self._interactions) > self._max_interactions:
            _, oldest = next(iter(self._interactions.items()))
            self.close(oldest)
        return session

    def close(self, session: Interaction) -> None:
        if self._interactions.pop(session.reply_channel, None) is None:
            return
        if session.timer is not None:
            session.timer.cancel()
        session.settle(None)
        self._host.close_reply_channel(session.reply_channel)

    def close_all(self) -> None:
        for session in list(self._interactions.values()):
            self.close(session)
        for channel in self._conversations.values():
            self._host.close_reply_channel(channel)
        self._conversations.clear()

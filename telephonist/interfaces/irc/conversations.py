"""Conversations: the unit of reply channels, ordering and affinity on IRC.

Theory of operation
-------------------
IRC has one TCP connection per network but many independent conversations on it: each
channel, and each person talking to the bot in private. A *conversation* is
``(network, room)`` (rooms compared the server's way, so ``#Room`` and ``#room`` are
one), plus one network-wide conversation (room ``None``) for events that belong to no
room (connect, disconnect, quit, nick changes). Each conversation gets its own reply
channel from the host and is the ``connection`` of every event sent for it, so:

* the events of one room are consumed in order, by one worker (affinity), while
  unrelated rooms proceed in parallel;
* ``{"text": ...}`` on a conversation's reply channel goes back to its room.

Conversations are opened on their first event and kept in least-recently-used order,
at most ``limit`` per network: private messages from many nicks cannot grow the set of
reply channels without bound. An evicted or aborted conversation just starts afresh,
with a new reply channel, at its room's next event.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ...core.codec import Content
from ..base import InterfaceHost

__all__ = ["Conversation", "Conversations"]


@dataclass(frozen=True, slots=True)
class Conversation:
    network: str
    room: str | None
    reply_channel: str


ReplyCallback = Callable[[Conversation, Content], Awaitable[None]]


class Conversations:
    def __init__(self, host: InterfaceHost, on_reply: ReplyCallback) -> None:
        self._host = host
        self._on_reply = on_reply
        self._by_network: dict[str, OrderedDict[str, Conversation]] = {}

    def find(self, network: str, folded: str | None) -> Conversation | None:
        """The open conversation of the room whose case-folded name is ``folded``
        (``None``: the network-wide one), marked as just used; ``None`` if there is none.
        Synchronous: looking up an open conversation costs no coroutine per event."""
        items = self._by_network.get(network)
        if items is None:
            return None
        key = folded or ""
        found = items.get(key)
        if found is not None:
            items.move_to_end(key)
        return found

    async def get(
        self, network: str, room: str | None, folded: str | None, limit: int
    ) -> Conversation:
        """The conversation for ``room`` (``folded`` is its case-folded form), opening
        a reply channel for it if it has none."""
        found = self.find(network, folded)
        if found is not None:
            return found
        items = self._by_network.setdefault(network, OrderedDict())
        key = folded or ""
        holder: list[Conversation] = []

        def handler(message: Content) -> Awaitable[None]:
            return self._on_reply(holder[0], message)

        # A room outlives any worker: rebound at its next event, never aborted, and its
        # reply channel stays in its rooms' groups (a bridge keeps relaying into it).
        channel = await self._host.open_reply_channel(handler, prefix="irc", rebind=True)
        conversation = Conversation(network, room, channel)
        holder.append(conversation)
        items[key] = conversation
        while len(items) > limit:
            _, oldest = items.popitem(last=False)
            self._host.close_reply_channel(oldest.reply_channel)
        return conversation

    def forget(self, conversation: Conversation) -> None:
        """End ``conversation`` (its worker is gone): its room's next event opens a new one."""
        items = self._by_network.get(conversation.network, OrderedDict())
        for key, value in list(items.items()):
            if value is conversation:  # not already evicted: close it once
                del items[key]
                self._host.close_reply_channel(conversation.reply_channel)

    def close_all(self) -> None:
        for items in self._by_network.values():
            for conversation in items.values():
                self._host.close_reply_channel(conversation.reply_channel)
            items.clear()

    def count(self) -> int:
        return sum(len(items) for items in self._by_network.values())

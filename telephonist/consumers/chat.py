"""``ChatConsumer``: one subclass answers WebSocket, IRC, Slack and email alike.

Implement ``on_chat(text, user, room)`` (and optionally ``on_join``/``on_leave``), answer
with ``reply(text)`` to the sender or ``say(room, text)`` to the whole room::

    class Echo(ChatConsumer):
        def on_chat(self, text, user, room):
            self.reply(f"{user} said: {text}")

    routing = [route_class(Echo)]   # every registered chat channel of every protocol

How events are told apart and how rooms map to groups: ``chat_registry``.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from typing import Any, ClassVar

from .base import AsyncConsumer, SyncConsumer, _Consumer
from .chat_registry import (
    ChatKind,
    chat_fields,
    chat_protocols,
    classify,
    join_answer,
    room_group,
    text_message,
)
from .exceptions import DenyConnection

__all__ = ["AsyncChatConsumer", "ChatConsumer"]

log = logging.getLogger("telephonist.consumers.chat")


class _ChatBase(_Consumer):
    #: ``None``: the channels of every registered chat protocol. A collection narrows
    #: it (``{"websocket.receive"}``); ``extra_chat_channels`` adds to the default.
    chat_channels: ClassVar[Collection[str] | None] = None
    join_channels: ClassVar[Collection[str] | None] = None
    leave_channels: ClassVar[Collection[str] | None] = None
    extra_chat_channels: ClassVar[Collection[str]] = ()
    #: Join a room's group on join and on every message (refreshing the membership),
    #: leave it on leave; set False to manage groups yourself.
    track_rooms: ClassVar[bool] = True
    room_group_prefix: ClassVar[str] = "chat."

    @classmethod
    def _channels(cls, kind: ChatKind) -> set[str]:
        override = {
            "message": cls.chat_channels,
            "join": cls.join_channels,
            "leave": cls.leave_channels,
        }[kind]
        if override is not None:
            return set(override)
        attr = {"message": "message_channels", "join": "join_channels", "leave": "leave_channels"}
        return {c for p in chat_protocols() for c in getattr(p, attr[kind])}

    @classmethod
    def channel_names(cls) -> set[str]:
        return (
            cls._channels("message")
            | cls._channels("join")
            | cls._channels("leave")
            | set(cls.extra_chat_channels)
        )

    def chat_kind(self) -> ChatKind:
        """``"join"``, ``"leave"`` or ``"message"`` for the event being consumed."""
        channel = self.message.channel.name
        if self.join_channels is None and self.leave_channels is None:
            return classify(channel, chat_protocols())
        if channel in self._channels("join"):
            return "join"
        return "leave" if channel in self._channels("leave") else "message"

    def _join_answer(self) -> tuple[dict[str, Any], ...]:
        return join_answer(self.message.channel.name, chat_protocols())

    def _tracking(self, room: str) -> bool:
        return self.track_rooms and bool(room) and self.message.reply_channel is not None

    def _about_this_connection(self) -> bool:
        """Whether a join/leave is this connection's own.

        A WebSocket's connect and disconnect always are. On IRC the reply channel is the
        whole room's, and events say with ``self`` whether they are about us: another
        user parting must not take the room out of its group (nor their join be refused
        on our behalf); their join/leave still reaches ``on_join``/``on_leave``.
        """
        return self.message.content.get("self", True) is not False

    def room_group(self, room: str) -> str:
        """The group of everyone in ``room``."""
        return room_group(room, self.room_group_prefix)

    def accept_join(self, user: str, room: str) -> bool:
        """Whether ``user`` may join ``room`` (False refuses: WebSocket close 403)."""
        return True


class ChatConsumer(_ChatBase, SyncConsumer):
    """Sync chat consumer: hooks run in a worker thread, sends block."""

    def reply(self, text: str | Mapping[str, Any]) -> None:
        """Answer the sender: ``{"text": text}`` on the reply channel."""
        super().reply(text_message(text))

    def say(self, room: str, text: str | Mapping[str, Any]) -> None:
        """Send ``{"text": text}`` to everyone in ``room``, over every protocol."""
        self.group_send(self.room_group(room), text_message(text))

    def enter_room(self, room: str) -> None:
        self.group_add(self.room_group(room))

    def leave_room(self, room: str) -> None:
        self.group_discard(self.room_group(room))

    def dispatch(self) -> None:
        text, user, room = chat_fields(self.message.content, self.kwargs)
        kind = self.chat_kind()
        own = self._about_this_connection()
        if kind == "join":
            if own and not self.accept_join(user, room):
                raise DenyConnection(f"{user!r} may not join {room!r}")
            if own and self.message.reply_channel is not None:
                for answer in self._join_answer():
                    self.reply(answer)
            if own and self._tracking(room):
                self.enter_room(room)
            self.on_join(user, room)
        elif kind == "leave":
            if own and self._tracking(room):
                self.leave_room(room)
            self.on_leave(user, room)
        elif isinstance(text, str):
            if self._tracking(room):
                self.enter_room(room)
            self.on_chat(text, user, room)
        else:  # a binary WebSocket frame, a mail without a text part: not chat
            log.debug("ignoring a %s event without text", self.message.channel.name)

    def on_chat(self, text: str, user: str, room: str) -> None:
        raise NotImplementedError(f"{type(self).__qualname__} must implement on_chat")

    def on_join(self, user: str, room: str) -> None:
        """Called after ``user`` joined ``room``; the default does nothing."""

    def on_leave(self, user: str, room: str) -> None:
        """Called after ``user`` left ``room``; the default does nothing."""


class AsyncChatConsumer(_ChatBase, AsyncConsumer):
    """Async chat consumer: hooks are coroutines run on the event loop (await its sends)."""

    async def reply(self, text: str | Mapping[str, Any]) -> None:
        """Answer the sender: ``{"text": text}`` on the reply channel."""
        await super().reply(text_message(text))

    async def say(self, room: str, text: str | Mapping[str, Any]) -> None:
        """Send ``{"text": text}`` to everyone in ``room``, over every protocol."""
        await self.group_send(self.room_group(room), text_message(text))

    async def enter_room(self, room: str) -> None:
        await self.group_add(self.room_group(room))

    async def leave_room(self, room: str) -> None:
        await self.group_discard(self.room_group(room))

    async def dispatch(self) -> None:
        text, user, room = chat_fields(self.message.content, self.kwargs)
        kind = self.chat_kind()
        own = self._about_this_connection()
        if kind == "join":
            if own and not self.accept_join(user, room):
                raise DenyConnection(f"{user!r} may not join {room!r}")
            if own and self.message.reply_channel is not None:
                for answer in self._join_answer():
                    await self.reply(answer)
            if own and self._tracking(room):
                await self.enter_room(room)
            await self.on_join(user, room)
        elif kind == "leave":
            if own and self._tracking(room):
                await self.leave_room(room)
            await self.on_leave(user, room)
        elif isinstance(text, str):
            if self._tracking(room):
                await self.enter_room(room)
            await self.on_chat(text, user, room)
        else:
            log.debug("ignoring a %s event without text", self.message.channel.name)

    async def on_chat(self, text: str, user: str, room: str) -> None:
        raise NotImplementedError(f"{type(self).__qualname__} must implement on_chat")

    async def on_join(self, user: str, room: str) -> None:
        """Called after ``user`` joined ``room``; the default does nothing."""

    async def on_leave(self, user: str, room: str) -> None:
        """Called after ``user`` left ``room``; the default does nothing."""

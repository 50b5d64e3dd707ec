"""``ChatConsumer``: one subclass answers WebSocket, IRC, Slack and email alike.

Implement ``on_chat(text, user, room)`` (and optionally ``on_join``/``on_leave``), answer
with ``reply(text)`` to the sender or ``say(room, text)`` to the whole room::

    class Echo(ChatConsumer):
        def on_chat(self, text, user, room):
            self.reply(f"{user} said: {text}")

    routing = [route_class(Echo)]   # every registered chat channel of every protocol

Every hook can read ``self.event``, the event in the common chat contract
(``telephonist.chat.ChatEvent``: ``kind``, ``message_id``, ``thread_id``, ``is_direct``,
...). ``on_event(event)`` is the one entry point for every kind; its default calls
``on_chat`` for messages, actions and notices, ``on_join``/``on_leave``, and
``on_edit``/``on_delete``/``on_reaction``/``on_topic`` (which do nothing unless
overridden). ``reply``/``say`` take the contract's reply keys (``kind="action"``,
``reply_to=...``, ``private=True``, ...).

What consuming an event means is planned once, without I/O (``_ChatBase._plan``: the
join answers, the group changes, then the hook), and each kind of consumer carries the
plan out with its own sends: blocking in ``ChatConsumer``, awaited in
``AsyncChatConsumer``. How events are told apart and how rooms map to groups:
``chat_registry``.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from typing import Any, ClassVar, Literal

from ..chat import ChatEvent, ChatReply
from ..core.codec import Content
from .base import AsyncConsumer, SyncConsumer, _Consumer
from .chat_registry import (
    ChatKind,
    chat_event,
    chat_protocols,
    chat_reply,
    classify,
    direct_group,
    join_answer,
    protocol_of,
    room_group,
)
from .exceptions import DenyConnection

__all__ = ["AsyncChatConsumer", "ChatConsumer"]

log = logging.getLogger("telephonist.consumers.chat")

#: One step of consuming a chat event: send on the reply channel, join or leave a group,
#: or call ``on_event``.
Step = (
    tuple[Literal["send"], Content]
    | tuple[Literal["group_add", "group_discard"], str]
    | tuple[Literal["hook"], ChatEvent]
)


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
    #: Our own messages echoed back (``is_self``) reach ``on_event`` only when True.
    handle_own_messages: ClassVar[bool] = False
    #: The protocols whose reply channels join rooms; ``None``: those whose
    #: ``ChatProtocol.joins_rooms`` is set, which leaves out email (a room's chatter
    #: mailed to a forgeable sender). ``{"websocket", "irc", "email"}`` lets mail in.
    room_protocols: ClassVar[Collection[str] | None] = None

    event: ChatEvent

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
        """``"join"``, ``"leave"`` or ``"message"``: what the event's channel carries."""
        channel = self.message.channel.name
        if self.join_channels is None and self.leave_channels is None:
            return classify(channel, chat_protocols())
        if channel in self._channels("join"):
            return "join"
        return "leave" if channel in self._channels("leave") else "message"

    def read_event(self) -> ChatEvent:
        """The event being consumed, in the common chat contract."""
        channel = self.message.channel.name
        protocol = protocol_of(channel, chat_protocols())
        name = protocol.name if protocol is not None else channel.split(".", 1)[0]
        return chat_event(self.message.content, name, self.chat_kind(), self.kwargs)

    def _about_this_connection(self) -> bool:
        """Whether a join/leave is this connection's own.

        A WebSocket's connect and disconnect always are. On IRC the reply channel is the
        whole room's, and events say with ``is_self`` (``self``) whether they are about
        us: another user parting must not take the room out of its group (nor their join
        be refused on our behalf); their join/leave still reaches ``on_join``/``on_leave``.
        """
        content = self.message.content
        stated = content.get("is_self", content.get("self"))
        return stated is not False

    def room_group(self, room: str) -> str:
        """The group of everyone in ``room``.

        While a direct conversation is consumed, its own room (an IRC private message's
        is the other person's nick) names the conversation's group of its own namespace
        (``event_group``), so ``say(room, ...)`` answers there: the nick ``lobby`` never
        speaks into the room ``lobby``."""
        event = getattr(self, "event", None)
        if event is not None and event["is_direct"] and room == event["room"]:
            return direct_group(event, "chat-direct.")
        return room_group(room, self.room_group_prefix)

    def _joins_rooms(self) -> bool:
        """Whether this event's reply channel may join room groups (``room_protocols``)."""
        protocol = protocol_of(self.message.channel.name, chat_protocols())
        if self.room_protocols is not None:
            return protocol is not None and protocol.name in self.room_protocols
        return protocol is None or protocol.joins_rooms

    def event_group(self, event: ChatEvent) -> str:
        """The group ``event``'s connection belongs to: its room's, or for a direct
        conversation one of its own namespace."""
        if event["is_direct"]:
            return direct_group(event, "chat-direct.")
        return self.room_group(event["room"])

    def accept_join(self, user: str, room: str) -> bool:
        """Whether ``user`` may join ``room`` (False refuses: WebSocket close 403)."""
        return True

    def _answer(self, text: str | Mapping[str, Any], keys: Mapping[str, Any]) -> ChatReply:
        """The reply ``reply(text, **keys)`` sends: in the event's thread when it was in
        one; ``private`` addressed to the event's user (``to``)."""
        reply = chat_reply(text, **keys)
        event = getattr(self, "event", None)
        if event is not None:
            if reply.get("private") and "to" not in reply:
                reply["to"] = event["user"]
            if event["thread_id"] and "thread_id" not in reply:
                reply["thread_id"] = event["thread_id"]
        return reply

    def _plan(self) -> list[Step]:
        """What consuming the event means, in order (no I/O: see the module docstring)."""
        event = self.event = self.read_event()
        kind, user, room = event["kind"], event["user"], event["room"]
        tracking = (
            self.track_rooms
            and bool(room)
            and self.message.reply_channel is not None
            and self._joins_rooms()
        )
        group = self.event_group(event) if tracking else ""
        steps: list[Step] = []
        if kind == "join":
            own = self._about_this_connection()
            if own and not self.accept_join(user, room):
                raise DenyConnection(f"{user!r} may not join {room!r}")
            if own and self.message.reply_channel is not None:
                channel = self.message.channel.name
                for answer in join_answer(channel, chat_protocols(), self.message.content):
                    steps.append(("send", answer))
            if own and tracking:
                steps.append(("group_add", group))
        elif kind == "leave":
            if self._about_this_connection() and tracking:
                steps.append(("group_discard", group))
        elif event["is_self"] and not self.handle_own_messages:
            return steps
        elif tracking:
            steps.append(("group_add", group))
        if kind in ("message", "action", "notice") and "text" not in self.message.content:
            # A binary WebSocket frame, a mail without a text part: not chat.
            log.debug("ignoring a %s event without text", self.message.channel.name)
            return steps
        steps.append(("hook", event))
        return steps


class ChatConsumer(_ChatBase, SyncConsumer):
    """Sync chat consumer: hooks run in a worker thread, sends block."""

    def dispatch(self) -> None:
        for step in self._plan():
            if step[0] == "send":
                self.reply_channel.send(step[1])
            elif step[0] == "group_add":
                self.group_add(step[1])
            elif step[0] == "group_discard":
                self.group_discard(step[1])
            else:
                self.on_event(step[1])

    # The chat reply takes text first (``reply("hi")``), then the contract's keys.
    def reply(self, text: str | Mapping[str, Any], **keys: Any) -> None:  # type: ignore[override]
        """Answer the sender: ``{"text": text, **keys}`` on the reply channel."""
        super().reply(self._answer(text, keys))

    def say(self, room: str, text: str | Mapping[str, Any], **keys: Any) -> None:
        """Send ``{"text": text, **keys}`` to everyone in ``room``, over every protocol."""
        self.group_send(self.room_group(room), chat_reply(text, **keys))

    def enter_room(self, room: str) -> None:
        self.group_add(self.room_group(room))

    def leave_room(self, room: str) -> None:
        self.group_discard(self.room_group(room))

    def on_event(self, event: ChatEvent) -> None:
        """Every event, after its join/leave bookkeeping. The default calls the hook of
        its kind: ``on_chat`` (message, action, notice), ``on_join``, ``on_leave``,
        ``on_edit``, ``on_delete``, ``on_reaction``, ``on_topic``."""
        kind = event["kind"]
        if kind in ("message", "action", "notice"):
            self.on_chat(event["text"], event["user"], event["room"])
        elif kind in ("join", "leave"):
            (self.on_join if kind == "join" else self.on_leave)(event["user"], event["room"])
        else:
            getattr(self, f"on_{kind}")(event)

    def on_chat(self, text: str, user: str, room: str) -> None:
        raise NotImplementedError(f"{type(self).__qualname__} must implement on_chat")

    def on_join(self, user: str, room: str) -> None:
        """Called after ``user`` joined ``room``; the default does nothing."""

    def on_leave(self, user: str, room: str) -> None:
        """Called after ``user`` left ``room``; the default does nothing."""

    def on_edit(self, event: ChatEvent) -> None:
        """``event["message_id"]`` now reads ``event["text"]``; the default does nothing."""

    def on_delete(self, event: ChatEvent) -> None:
        """``event["message_id"]`` was deleted; the default does nothing."""

    def on_reaction(self, event: ChatEvent) -> None:
        """``event["emoji"]`` on ``event["reply_to"]`` (``removed``: taken back)."""

    def on_topic(self, event: ChatEvent) -> None:
        """The room's topic is now ``event["text"]``; the default does nothing."""


class AsyncChatConsumer(_ChatBase, AsyncConsumer):
    """Async chat consumer: hooks are coroutines run on the event loop (await its sends)."""

    async def dispatch(self) -> None:
        for step in self._plan():
            if step[0] == "send":
                await self.reply_channel.send(step[1])
            elif step[0] == "group_add":
                await self.group_add(step[1])
            elif step[0] == "group_discard":
                await self.group_discard(step[1])
            else:
                await self.on_event(step[1])

    async def reply(self, text: str | Mapping[str, Any], **keys: Any) -> None:  # type: ignore[override]
        """Answer the sender: ``{"text": text, **keys}`` on the reply channel."""
        await super().reply(self._answer(text, keys))

    async def say(self, room: str, text: str | Mapping[str, Any], **keys: Any) -> None:
        """Send ``{"text": text, **keys}`` to everyone in ``room``, over every protocol."""
        await self.group_send(self.room_group(room), chat_reply(text, **keys))

    async def enter_room(self, room: str) -> None:
        await self.group_add(self.room_group(room))

    async def leave_room(self, room: str) -> None:
        await self.group_discard(self.room_group(room))

    async def on_event(self, event: ChatEvent) -> None:
        """As ``ChatConsumer.on_event``, awaited."""
        kind = event["kind"]
        if kind in ("message", "action", "notice"):
            await self.on_chat(event["text"], event["user"], event["room"])
        elif kind in ("join", "leave"):
            hook = self.on_join if kind == "join" else self.on_leave
            await hook(event["user"], event["room"])
        else:
            await getattr(self, f"on_{kind}")(event)

    async def on_chat(self, text: str, user: str, room: str) -> None:
        raise NotImplementedError(f"{type(self).__qualname__} must implement on_chat")

    async def on_join(self, user: str, room: str) -> None:
        """Called after ``user`` joined ``room``; the default does nothing."""

    async def on_leave(self, user: str, room: str) -> None:
        """Called after ``user`` left ``room``; the default does nothing."""

    async def on_edit(self, event: ChatEvent) -> None:
        """``event["message_id"]`` now reads ``event["text"]``; the default does nothing."""

    async def on_delete(self, event: ChatEvent) -> None:
        """``event["message_id"]`` was deleted; the default does nothing."""

    async def on_reaction(self, event: ChatEvent) -> None:
        """``event["emoji"]`` on ``event["reply_to"]`` (``removed``: taken back)."""

    async def on_topic(self, event: ChatEvent) -> None:
        """The room's topic is now ``event["text"]``; the default does nothing."""

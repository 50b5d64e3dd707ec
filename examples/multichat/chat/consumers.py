"""One chat consumer for the browser, IRC and email (the common chat contract).

``ChatConsumer`` hands us ``(text, user, room)`` whatever the protocol; ``say(room,
text)`` reaches everyone in the room over every protocol. What is Django here: the
messages are stored with the ORM, and a browser's chosen name lives in the
connection's channel session (cached in the worker for the life of the socket, so no
session query per message).
"""

from __future__ import annotations

from urllib.parse import parse_qs

from telephonist.consumers import ChatConsumer, room_group
from telephonist.django.sessions import channel_session

from .models import ChatMessage

HISTORY = 20
PROTOCOLS = {"websocket": "web", "irc-client": "irc", "email": "mail"}


def irc_group(room: str) -> str:
    return room_group(room, prefix="chat-irc.")


def clean_name(raw: str) -> str:
    name = " ".join(raw.split())[:30]
    return name or "anonymous"


@channel_session
class RoomConsumer(ChatConsumer):
    """A room over WebSocket and IRC: history on join, every line stored and relayed."""

    @property
    def protocol(self) -> str:
        return PROTOCOLS.get(self.message.channel.name.split(".")[0], "other")

    def room_group(self, room: str) -> str:
        """IRC channels join a group of their own: a line said on IRC is relayed to the
        browsers (and stored) but not repeated back into the IRC channel it came from."""
        return irc_group(room) if self.protocol == "irc" else super().room_group(room)

    def say(self, room: str, text: str) -> None:  # type: ignore[override]
        self.group_send(super().room_group(room), {"text": text})
        if self.protocol != "irc":
            self.group_send(irc_group(room), {"text": text})

    def display_name(self, user: str) -> str:
        """A browser picked its name on the page; other protocols bring theirs."""
        session = self.message.channel_session  # type: ignore[attr-defined]
        return str(session.get("name") or user)

    def on_join(self, user: str, room: str) -> None:
        if self.message.channel.name != "websocket.connect":
            return  # IRC joins: the channel has its own history
        query = parse_qs(bytes(self.message.get("query_string") or b"").decode("latin-1"))
        name = clean_name(query.get("name", [""])[0])
        self.message.channel_session["name"] = name  # type: ignore[attr-defined]
        for line in ChatMessage.recent(room, HISTORY):
            self.reply(f"<{line.user}> {line.text}")
        self.say(room, f"* {name} joined #{room}")

    def on_leave(self, user: str, room: str) -> None:
        if self.message.channel.name == "websocket.disconnect":
            self.say(room, f"* {self.display_name(user)} left #{room}")

    def on_chat(self, text: str, user: str, room: str) -> None:
        text = text.strip()
        if not text:
            return
        name = self.display_name(user)
        ChatMessage.objects.create(room=room, user=name, text=text, protocol=self.protocol)
        self.say(room, f"<{name}> {text}")


class MailToRoom(RoomConsumer):
    """Mail to room-<room>@localhost posts its text in the room. The sender's mail
    connection does not join the room: nobody wants every line as a reply mail."""

    chat_channels = ("email.receive",)
    join_channels = ()
    leave_channels = ()
    track_rooms = False

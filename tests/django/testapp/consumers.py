"""Consumers the Django tests route to (sessions, users, ordering, database)."""

from __future__ import annotations

from typing import Any

from telephonist.consumers import AsyncConsumer, ChatConsumer, Message, WebsocketConsumer
from telephonist.django.auth import (
    channel_session_user,
    channel_session_user_from_http,
    http_session_user,
    login,
    logout,
)
from telephonist.django.sessions import channel_session, enforce_ordering, http_session

from .models import Note


@channel_session
def count(message: Message) -> None:
    """Counts the messages of a connection in its channel session; "peek" reads only."""
    session = message.channel_session  # type: ignore[attr-defined]
    if message.get("text") != "peek":
        session["n"] = session.get("n", 0) + 1
    assert message.reply_channel is not None
    message.reply_channel.send({"text": str(session.get("n", 0))})


@channel_session
async def acount(message: Message) -> None:
    session = message.channel_session  # type: ignore[attr-defined]
    session["n"] = session.get("n", 0) + 1
    assert message.reply_channel is not None
    await message.reply_channel.send({"text": str(session["n"])})


@enforce_ordering
def ordered(message: Message) -> None:
    assert message.reply_channel is not None
    message.reply_channel.send({"text": f"order {message.get('order')}"})


@enforce_ordering(slight=True)
def slightly_ordered(message: Message) -> None:
    assert message.reply_channel is not None
    message.reply_channel.send({"text": "ok"})


@http_session
def whoami_cookie(message: Message) -> None:
    session = message.http_session  # type: ignore[attr-defined]
    assert message.reply_channel is not None
    message.reply_channel.send({"text": "none" if session is None else session.get("color", "?")})


@http_session_user
def http_user(message: Message) -> None:
    assert message.reply_channel is not None
    message.reply_channel.send({"text": message.user.get_username() or "anonymous"})  # type: ignore[attr-defined]


@channel_session_user_from_http
def connect_user(message: Message) -> None:
    assert message.reply_channel is not None
    message.reply_channel.send({"type": "websocket.accept"})


@channel_session_user
def channel_user(message: Message) -> None:
    user: Any = message.user  # type: ignore[attr-defined]
    text = message.get("text")
    if text == "logout":
        logout(message)
        user = message.user  # type: ignore[attr-defined]
    elif isinstance(text, str) and text.startswith("login "):
        from django.contrib.auth import get_user_model

        login(message, get_user_model().objects.get(username=text[6:]))
        user = message.user  # type: ignore[attr-defined]
    assert message.reply_channel is not None
    message.reply_channel.send({"text": user.get_username() or "anonymous"})


@channel_session
class RoomChat(ChatConsumer):
    """The class decorator: every hook sees this connection's channel session."""

    def on_join(self, user: str, room: str) -> None:
        self.message.channel_session["nick"] = user  # type: ignore[attr-defined]

    def on_chat(self, text: str, user: str, room: str) -> None:
        nick = self.message.channel_session.get("nick", "?")  # type: ignore[attr-defined]
        self.say(room, f"<{nick}> {text}")


class Methods(WebsocketConsumer):
    """The decorator on a handler method of a class-based consumer."""

    @channel_session
    def websocket_receive(self, message: Message, **kwargs: str) -> None:
        session = message.channel_session  # type: ignore[attr-defined]
        session["seen"] = [*session.get("seen", []), message.get("text")]
        self.send(text_data=",".join(session["seen"]))


@channel_session
class AsyncCounter(AsyncConsumer):
    channels = ["async.count"]

    async def async_count(self, message: Message, **kwargs: str) -> None:
        session = message.channel_session  # type: ignore[attr-defined]
        session["n"] = session.get("n", 0) + 1
        await self.reply({"text": str(session["n"])})


def note(message: Message) -> None:
    """Writes a row: the live-server tests read it back from the test database."""
    assert message.reply_channel is not None
    if message.type == "websocket.connect":
        message.reply_channel.send({"type": "websocket.accept"})
        return
    Note.objects.create(text=str(message.get("text")))
    message.reply_channel.send({"text": f"noted {Note.objects.count()}"})


def echo(message: Message) -> None:
    """No database: for the command tests, whose server has no migrated database."""
    assert message.reply_channel is not None
    if message.type == "websocket.connect":
        message.reply_channel.send({"type": "websocket.accept"})
    else:
        message.reply_channel.send({"text": f"echo {message.get('text')}"})


class Room(ChatConsumer):
    """No database: the room views, commands and shells push to (test_layers.py)."""

    def on_chat(self, text: str, user: str, room: str) -> None:
        self.say(room, text)


class SlackDesk(ChatConsumer):
    """A Django app's consumer answering Slack (run by ``manage.py runworker``): Django's
    own helpers and settings, the common chat keys, ``reply`` posts in the thread."""

    chat_channels = {"slack.message"}

    def on_chat(self, text: str, user: str, room: str) -> None:
        from django.conf import settings
        from django.utils.text import slugify

        self.reply(f"{slugify(text)} for {user} in #{room} ({settings.ROOT_URLCONF})")

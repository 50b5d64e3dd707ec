"""Channels 4's application for Daphne and uvicorn: Django's ASGI handler for HTTP, an
``AsyncWebsocketConsumer`` echo on ``/ws/echo`` and a group chat room on ``/ws/room``;
what ``startproject`` plus the Channels tutorial give a user."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.webapp.settings")
django_asgi_app = get_asgi_application()  # sets Django up before the consumers import

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402


class Echo(AsyncWebsocketConsumer):  # type: ignore[misc]
    """Sends every frame back unchanged."""

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is not None:
            await self.send(text_data=text_data)
        else:
            await self.send(bytes_data=bytes_data)


class Room(AsyncWebsocketConsumer):  # type: ignore[misc]
    """``bench/broadcast.py``: every socket joins one group; a frame from any of them is
    sent to the group, as the Channels tutorial's chat room does."""

    async def connect(self) -> None:
        await self.channel_layer.group_add(ROOM, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(ROOM, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await self.channel_layer.group_send(ROOM, {"type": "room.message", "text": text_data})

    async def room_message(self, event: dict[str, str]) -> None:
        await self.send(text_data=event["text"])


ROOM = "bench-room"

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter([path("ws/echo", Echo.as_asgi()), path("ws/room", Room.as_asgi())]),
    }
)

"""Telephonist's routing for the benchmark: Django views for ``http.*``, an async echo
consumer for ``websocket.*`` on ``/ws/echo``, a group chat room on ``/ws/room``."""

from __future__ import annotations

from telephonist.consumers.websocket import AsyncWebsocketConsumer
from telephonist.django.views import DjangoViewConsumer
from telephonist.routing import route_class


class Echo(AsyncWebsocketConsumer):
    """Sends every frame back unchanged."""

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is not None:
            await self.send(text_data=text_data)
        else:
            await self.send(bytes_data=bytes_data)


class Room(AsyncWebsocketConsumer):
    """``bench/broadcast.py``: every socket joins one group; a frame from any of them is
    sent to the group's sockets."""

    groups = ("bench-room",)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await self.group_send("bench-room", {"type": "websocket.send", "text": text_data})


routes = [
    route_class(Echo, path=r"^/ws/echo$"),
    route_class(Room, path=r"^/ws/room$"),
    route_class(DjangoViewConsumer),
]

"""Telephonist's routing for the benchmark: Django views for ``http.*``, an async echo
consumer for ``websocket.*`` on ``/ws/echo``."""

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


routes = [route_class(Echo, path=r"^/ws/echo$"), route_class(DjangoViewConsumer)]

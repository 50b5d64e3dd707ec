"""A Channels 4 project whose CHANNEL_LAYERS names a Telephonist layer runs unchanged.

The consumer below is ordinary Channels 4 code (group_add in connect, group_send on
receive, a handler per message type); only the settings name our backend.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import django
import pytest
from django.conf import settings
from django.test import override_settings

if not settings.configured:
    settings.configure(
        INSTALLED_APPS=["channels"],
        CHANNEL_LAYERS={},
        DATABASES={},
        USE_TZ=True,
    )
    django.setup()

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator

from tests.servers import RedisServer


class RoomConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    async def connect(self) -> None:
        await self.channel_layer.group_add("room", self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard("room", self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        await self.channel_layer.group_send(
            "room", {"type": "room.message", "text": content["text"]}
        )

    async def room_message(self, event: dict[str, Any]) -> None:
        await self.send_json({"text": event["text"]})


BACKENDS = ["memory", "redis"]


@pytest.fixture(params=BACKENDS)
def channel_layer_settings(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    if request.param == "memory":
        config: dict[str, Any] = {"BACKEND": "telephonist.core.memory.InMemoryChannelLayer"}
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        config = {
            "BACKEND": "telephonist.core.redis.RedisChannelLayer",
            "CONFIG": {"hosts": [server.url], "prefix": "compat"},
        }
    # override_settings sends setting_changed: Channels' layer manager and, with the
    # telephonist.django app installed, the project's layers it answers with follow.
    with override_settings(CHANNEL_LAYERS={"default": config}):
        assert type(channel_layers["default"]).__name__ == config["BACKEND"].rsplit(".", 1)[1]
        yield config


async def test_group_broadcast_through_channels_consumers(
    channel_layer_settings: dict[str, Any],
) -> None:
    alice = WebsocketCommunicator(RoomConsumer.as_asgi(), "/ws/room/")
    bob = WebsocketCommunicator(RoomConsumer.as_asgi(), "/ws/room/")
    try:
        assert (await alice.connect(timeout=5))[0]
        assert (await bob.connect(timeout=5))[0]
        await alice.send_json_to({"text": "hello from alice"})
        assert await alice.receive_json_from(timeout=5) == {"text": "hello from alice"}
        assert await bob.receive_json_from(timeout=5) == {"text": "hello from alice"}
    finally:
        await alice.disconnect()
        await bob.disconnect()
        layer = channel_layers["default"]
        await layer.flush()
        await layer.close()

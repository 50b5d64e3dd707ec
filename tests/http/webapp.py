"""The application the end-to-end tests run under ``telephonist run``: a user's routing
module with consumers written against the project's consumer API.

* ``/echo``: an ``AsyncHttpConsumer`` answering JSON facts about the request (the body
  arrives in several ``http.request`` chunks and the consumer collects them);
* ``/stream``: a sync function consumer streaming a response without Content-Length;
* ``/hang``: never answers (for timeouts and killed workers);
* ``/ws/echo``: an ``AsyncWebsocketConsumer`` echoing frames;
* ``/chat/<room>``: a ``ChatConsumer`` answering on the common chat contract;
* anything else: no route, so the Dispatcher's policy answers 404 (HTTP) or 403 (WS).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from telephonist.consumers import Message
from telephonist.consumers.chat import ChatConsumer
from telephonist.consumers.http import AsyncHttpConsumer
from telephonist.consumers.websocket import AsyncWebsocketConsumer
from telephonist.routing import route, route_class


class Echo(AsyncHttpConsumer):
    async def handle(self, body: bytes) -> None:
        facts: dict[str, Any] = {
            "method": self.message["method"],
            "path": self.message["path"],
            "length": len(body),
            "sha": __import__("hashlib").sha256(body).hexdigest(),
        }
        await self.send_response(
            200, json.dumps(facts).encode(), [(b"content-type", b"application/json")]
        )


def stream(message: Message, **kwargs: str) -> None:
    reply = message.reply_channel
    assert reply is not None
    reply.send({"type": "http.response.start", "status": 200, "headers": []})
    for i in range(5):
        reply.send({"type": "http.response.body", "body": b"chunk%d;" % i, "more_body": True})
    reply.send({"type": "http.response.body", "body": b""})


async def hang(message: Message, **kwargs: str) -> None:
    """Never answers; tells the test (on the worker's stdout) that it holds a request."""
    print("hanging on", message["path"], flush=True)
    await asyncio.Event().wait()


class WsEcho(AsyncWebsocketConsumer):
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is not None:
            await self.send(text_data="echo:" + text_data)
        else:
            await self.send(bytes_data=bytes_data)


class Room(ChatConsumer):
    def on_chat(self, text: str, user: str, room: str) -> None:
        self.reply(f"{room}: {text}")


routes = [
    route_class(Echo, path=r"^/echo"),
    route("http.request", stream, path=r"^/stream$"),
    route("http.request", hang, path=r"^/hang$"),
    route_class(WsEcho, path=r"^/ws/echo$"),
    route_class(Room, path=r"^/chat/"),
]

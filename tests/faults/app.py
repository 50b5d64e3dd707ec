"""The application the fault suite runs under ``telephonist serve`` and ``telephonist
worker``: the HTTP/WebSocket consumers of ``tests.http.webapp`` (``/echo``, ``/hang``,
``/ws/echo``), ``/later`` (answers once the worker gets SIGUSR1: a reply sent when the
test chooses, during an outage), a mail consumer that takes every mail, and an IRC room
that answers ``<room>: <text>`` in the channel it was spoken in."""

from __future__ import annotations

import asyncio
import signal

from telephonist.consumers import Message
from telephonist.consumers.message import AsyncMessage
from telephonist.routing import route, route_class
from tests.http.webapp import Room
from tests.http.webapp import routes as web_routes


class IrcRoom(Room):
    @classmethod
    def channel_names(cls) -> set[str]:
        return {"irc-client.receive"}


async def later(message: AsyncMessage, **kwargs: str) -> None:
    go = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, go.set)
    print("later: waiting for SIGUSR1", flush=True)
    await go.wait()
    assert message.reply_channel is not None
    await message.reply_channel.send({"type": "http.response.start", "status": 200})
    await message.reply_channel.send({"type": "http.response.body", "body": b"later"})


def mail(message: Message, **kwargs: str) -> None:
    """Takes the mail: nothing to answer (the sender has had its 250)."""


routes = [
    route("http.request", later, path=r"^/later$"),
    *web_routes,
    route("email.receive", mail),
    route_class(IrcRoom),
]

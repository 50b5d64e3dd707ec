"""The application the fault suite runs under ``telephonist serve`` and ``telephonist
worker``: the HTTP/WebSocket consumers of ``tests.http.webapp`` (``/echo``, ``/hang``,
``/ws/echo``), a mail consumer that takes every mail, and an IRC room that answers
``<room>: <text>`` in the channel it was spoken in."""

from __future__ import annotations

from telephonist.consumers import Message
from telephonist.routing import route, route_class
from tests.http.webapp import Room
from tests.http.webapp import routes as web_routes


class IrcRoom(Room):
    @classmethod
    def channel_names(cls) -> set[str]:
        return {"irc-client.receive"}


def mail(message: Message, **kwargs: str) -> None:
    """Takes the mail: nothing to answer (the sender has had its 250)."""


routes = [*web_routes, route("email.receive", mail), route_class(IrcRoom)]

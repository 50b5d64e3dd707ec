"""The Telephonist side: an async consumer on ``email.receive`` that takes each mail and
returns, answering nothing (a mail-to-database job, minus the database)."""

from __future__ import annotations

from telephonist.consumers import Message
from telephonist.routing import route


async def take(message: Message) -> None:
    assert message["to"]


routes = [route("email.receive", take)]

"""Telephonist's routing for the IRC benchmark: one async consumer answering ``!ping``.

Run by ``telephonist run`` and ``telephonist worker`` with ``routing =
"bench.ircapp.routing.routes"``; the reply goes to the message's reply channel, which the
IRC interface turns into a PRIVMSG to the room the ping came from.
"""

from __future__ import annotations

from telephonist.consumers import AsyncMessage
from telephonist.routing import route


async def ping(message: AsyncMessage) -> None:
    assert message.reply_channel is not None
    await message.reply_channel.send({"text": "pong" + message["text"][5:]})


routes = [route("irc-client.receive", ping, text=r"^!ping")]

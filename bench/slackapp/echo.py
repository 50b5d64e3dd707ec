"""The Telephonist app: an async consumer on ``slack.message`` that answers with the
event's text (``{"text": ...}``: ``chat.postMessage`` where the message was said)."""

from __future__ import annotations

from telephonist.consumers import Message
from telephonist.routing import route


async def echo(message: Message) -> None:
    assert message.reply_channel is not None
    await message.reply_channel.send({"text": message["text"]})


routes = [route("slack.message", echo)]

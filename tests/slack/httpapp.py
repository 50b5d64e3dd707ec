"""Routing for ``telephonist run`` in ``test_events_http.py``: every ``slack.message`` is
answered ``got <text>`` (a ``chat.postMessage`` the stand-in records). A message
starting with ``hold`` keeps the consumer busy until the test releases it: it connects
to the test's gate (``SLACK_TEST_GATE``, a loopback port) and waits for one byte, so a
worker running one message at a time takes nothing else meanwhile."""

from __future__ import annotations

import asyncio
import os

from telephonist.consumers import Message
from telephonist.routing import route

GATE_WAIT = 30.0  # seconds: bounded, whatever the test does


async def answer(message: Message) -> None:
    text = str(message["text"])
    if text.startswith("hold"):
        port = int(os.environ["SLACK_TEST_GATE"])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            async with asyncio.timeout(GATE_WAIT):
                await reader.read(1)
        finally:
            writer.close()
    assert message.reply_channel is not None
    await message.reply_channel.send({"text": f"got {text}"})


routes = [route("slack.message", answer)]

"""The Slack Bolt app: ``AsyncApp`` with ``AsyncSocketModeHandler`` (slack-sdk's aiohttp
Socket Mode client), its listener answering every ``message`` event with its text
through ``say`` (``chat.postMessage`` in the event's channel).

Run as ``python -m bench.slackapp.bolt_echo`` with ``SLACK_BOT_TOKEN``,
``SLACK_APP_TOKEN`` and ``SLACK_API_URL`` (the stand-in's Web API) in the environment;
prints ``bolt: ready`` once its Socket Mode connection is up, stops on SIGTERM.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from typing import Any

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient


def make_app() -> AsyncApp:
    client = AsyncWebClient(
        token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"]
    )
    app = AsyncApp(client=client)

    @app.event("message")
    async def echo(event: dict[str, Any], say: Any) -> None:
        await say(text=event["text"])

    return app


async def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    handler = AsyncSocketModeHandler(make_app(), os.environ["SLACK_APP_TOKEN"])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await handler.connect_async()  # type: ignore[no-untyped-call]
    print("bolt: ready", flush=True)
    await stop.wait()
    await handler.close_async()  # type: ignore[no-untyped-call]
    print("bolt: stopped", flush=True)


if __name__ == "__main__":
    asyncio.run(main())

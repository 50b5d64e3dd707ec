"""A bare ``irc`` asyncio bot answering ``!ping N`` with ``pong N``: the floor of
``bench/irc.py``, what the ``irc`` library's asyncio client does with nothing between
the line and the reply (no bus, no flood control, no routing).

``python -m bench.ircapp.bare HOST PORT NICK CHANNEL`` runs it until SIGTERM.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Any

from irc.client_aio import AioSimpleIRCClient


class PingBot(AioSimpleIRCClient):  # type: ignore[misc]  # the library is untyped
    def __init__(self, channel: str) -> None:
        super().__init__()
        self.channel = channel

    def on_welcome(self, connection: Any, event: Any) -> None:
        connection.join(self.channel)

    def on_pubmsg(self, connection: Any, event: Any) -> None:
        text: str = event.arguments[0]
        if text.startswith("!ping"):
            connection.privmsg(event.target, "pong" + text[5:])


def main(argv: list[str]) -> None:
    host, port, nick, channel = argv
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    bot = PingBot(channel)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    bot.connect(host, int(port), nick)
    loop.run_until_complete(stop.wait())
    bot.connection.disconnect("bye")
    loop.close()


if __name__ == "__main__":
    main(sys.argv[1:])

"""The Sopel 8 side of ``bench/irc.py``: ``!ping N`` answered with ``pong N``.

Sopel's defaults otherwise (each command runs in a thread of its own); its flood
protection and anti-loop are switched off in the configuration ``bench/_ircbots.py``
writes, as Telephonist's are.
"""

from __future__ import annotations

from typing import Any

from sopel import plugin


@plugin.command("ping")  # type: ignore[untyped-decorator,unused-ignore]
def ping(bot: Any, trigger: Any) -> None:
    rest = trigger.group(2)
    bot.say(f"pong {rest}" if rest else "pong")

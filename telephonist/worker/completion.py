"""Sending ``telephonist.done`` after a consumer ran an event that asked for it.

The message and why it exists: ``telephonist.spec.completion``. The worker calls
``report`` after the Dispatcher returned, so the completion follows, on the same reply
channel, every message the consumer sent there while it ran (the layer keeps one
sender's messages to one channel in order). A completion that cannot be sent (the layer
is down, the reply channel full) is counted and logged at most once a minute: the
interface's own bound turns the silence into its protocol's "try again".
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from ..core.base import BaseChannelLayer
from ..core.ratelog import RateLimitedLog
from ..spec.completion import COMPLETION_KEY, DONE, Done
from .dispatch import Outcome

__all__ = ["report", "wants_completion"]

log = logging.getLogger("telephonist.worker.completion")
_failures = RateLimitedLog(log)


def wants_completion(content: dict[str, Any]) -> bool:
    return content.get(COMPLETION_KEY) is True and isinstance(content.get("reply_channel"), str)


async def report(
    layer: BaseChannelLayer, content: dict[str, Any], outcome: Outcome, counters: Counter[str]
) -> None:
    """Send the completion for ``content`` if it asked for one; never raises."""
    if outcome is Outcome.CONSUME_LATER or not wants_completion(content):
        return
    done: Done = {"type": DONE, "outcome": outcome.value}
    try:
        await layer.send(content["reply_channel"], dict(done))
    except Exception as exc:
        counters["completion_failed"] += 1
        _failures.warning(
            "completion", "could not send a completion (the interface will time out): %r", exc
        )
        return
    counters["completions"] += 1

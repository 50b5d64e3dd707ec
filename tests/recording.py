"""A consumer that hands what it gets to the test: the stacks of ``tests/email`` and
``tests/slack`` route to it and the test awaits their ``received`` queue."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from telephonist.consumers import Message

__all__ = ["Receiving", "recorder"]


class Receiving(Protocol):
    """A test stack: where the recorder puts what it got."""

    @property
    def received(self) -> asyncio.Queue[dict[str, Any]]: ...


def recorder(
    ref: Sequence[Receiving],
    reply: Callable[[dict[str, Any]], Any] | None = None,
    *,
    kwargs: bool = False,
) -> Any:
    """An async function consumer that queues ``message.content`` on ``ref[0].received``
    (``ref`` is filled once the stack exists, after the routing is made) and, with
    ``reply``, answers ``reply(content)`` on the reply channel. With ``kwargs``, the
    route's captured groups come along as ``content["_kwargs"]``."""

    async def consume(message: Message, **captured: str) -> None:
        content = dict(message.content)
        if kwargs:
            content["_kwargs"] = captured
        await ref[0].received.put(content)
        if reply is not None and message.reply_channel is not None:
            answer = reply(content)
            if answer is not None:
                await message.reply_channel.send(answer)

    return consume

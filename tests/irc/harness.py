"""A minimal ``InterfaceHost`` over the real in-memory layer, for interface-level tests.

It does what the contract says and no more: reply channels from ``layer.new_channel``,
one reader task per reply channel calling the handler in order, ``send_event`` stamping
``reply_channel`` and a per-connection ``order``. The test plays the worker by receiving
from the event channels itself. End-to-end tests use the real host, worker and routing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable, Sequence

from telephonist.core.base import BaseChannelLayer
from telephonist.core.codec import Content
from telephonist.core.memory import InMemoryChannelLayer
from telephonist.interfaces.base import ReplyHandler

__all__ = ["MiniHost"]


class MiniHost:
    def __init__(self, layer: BaseChannelLayer | None = None) -> None:
        self._layer = layer or InMemoryChannelLayer()
        self.counters: Counter[str] = Counter()
        self._readers: dict[str, asyncio.Task[None]] = {}
        self._order: dict[str, int] = {}

    @property
    def layer(self) -> BaseChannelLayer:
        return self._layer

    async def open_reply_channel(
        self, handler: ReplyHandler, prefix: str = "", *, rebind: bool = False
    ) -> str:
        channel = await self._layer.new_channel(f"{prefix or 'reply'}.")

        async def read() -> None:
            while channel in self._readers:  # closed from inside a handler: stop here
                message = await self._layer.receive(channel)
                if channel in self._readers:
                    await handler(message)

        self._readers[channel] = asyncio.ensure_future(read())
        return channel

    def close_reply_channel(self, channel: str) -> None:
        task = self._readers.pop(channel, None)
        if task is not None:
            task.cancel()

    async def send_event(
        self, channel: str, message: Content, *, connection: str | None = None
    ) -> None:
        if connection is not None:
            order = self._order.get(connection, 0)
            message = {**message, "reply_channel": connection, "order": order}
            await self._layer.send(channel, message)
            self._order[connection] = order + 1
        else:
            await self._layer.send(channel, message)

    async def send_events(
        self, events: Sequence[tuple[str, Content, str]]
    ) -> list[Exception | None]:
        return []  # no batches: the interface sends each event with send_event

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] += n

    async def next_event(
        self, channel: str, match: Callable[[Content], bool] = lambda m: True, within: float = 10
    ) -> Content:
        """Play the worker: the next message on ``channel`` matching ``match``."""
        async with asyncio.timeout(within):
            while True:
                message = await self._layer.receive(channel)
                if match(message):
                    return message

    async def close(self) -> None:
        for task in self._readers.values():
            task.cancel()
        for task in self._readers.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._readers.clear()

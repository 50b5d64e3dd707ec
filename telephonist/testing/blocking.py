"""``ConsumerTester``: the blocking face of ``AsyncConsumerTester``, for plain tests.

Each call runs the async engine to completion on a private event loop
(``asyncio.Runner``) in the calling thread, so a plain ``def test_...`` reads like a
script. In an ``async def`` test use ``async with ConsumerTester(...) as t`` (which gives
the async face) or ``AsyncConsumerTester``: a blocking call there would stop the test's
own loop, so it is refused with a message saying so.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine, Mapping
from typing import Any, TypeVar

from ..core.codec import Content
from ..core.memory import InMemoryChannelLayer
from ..routing import Router
from ..worker.dispatch import Dispatcher, Outcome
from .tester import AsyncConsumerTester, Routing

__all__ = ["ConsumerTester"]

T = TypeVar("T")


class ConsumerTester:
    """``with ConsumerTester(routing) as t: t.send(...); t.assert_reply(...)``.

    Same methods as ``AsyncConsumerTester``, without ``await``.
    """

    def __init__(
        self,
        routing: Routing,
        *,
        layer: InMemoryChannelLayer | None = None,
        consume_later_limit: int = 10,
        max_workers: int = 4,
    ) -> None:
        self.engine = AsyncConsumerTester(
            routing, layer=layer, consume_later_limit=consume_later_limit, max_workers=max_workers
        )
        self._runner: asyncio.Runner | None = None

    @property
    def router(self) -> Router:
        return self.engine.router

    @property
    def layer(self) -> InMemoryChannelLayer:
        return self.engine.layer

    @property
    def dispatcher(self) -> Dispatcher:
        return self.engine.dispatcher

    @property
    def outcomes(self) -> list[Outcome]:
        return self.engine.outcomes

    @property
    def reply_channel(self) -> str:
        return self.engine.reply_channel

    def new_reply_channel(self) -> str:
        return self.engine.new_reply_channel()

    # -- lifecycle ----------------------------------------------------------------------

    def __enter__(self) -> ConsumerTester:
        self.engine.activate()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> AsyncConsumerTester:
        return await self.engine.__aenter__()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.engine.close()

    def close(self) -> None:
        self.engine.deactivate()  # here: the context ``activate`` changed is this one
        try:
            self._run(self.engine.close())
        finally:
            if self._runner is not None:
                self._runner.close()
                self._runner = None

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            coroutine.close()
            raise RuntimeError(
                "ConsumerTester's methods block; in an async test use "
                "`async with ConsumerTester(...) as t` and await them"
            )
        if self._runner is None:
            self._runner = asyncio.Runner()
        # Run in a copy of the caller's context, so what the test activated is seen.
        return self._runner.run(coroutine, context=contextvars.copy_context())

    # -- the engine's methods, blocking ---------------------------------------------------

    def send(
        self, channel: str, content: Mapping[str, Any] | None = None, *, reply: bool | str = True
    ) -> Outcome:
        return self._run(self.engine.send(channel, content, reply=reply))

    def send_and_consume(
        self, channel: str, content: Mapping[str, Any] | None = None, *, reply: bool | str = True
    ) -> Outcome:
        return self._run(self.engine.send_and_consume(channel, content, reply=reply))

    def consume(self, channel: str) -> Outcome:
        return self._run(self.engine.consume(channel))

    def get_next_message(self, channel: str) -> Content | None:
        return self._run(self.engine.get_next_message(channel))

    def get_next_reply(self, reply_channel: str | None = None) -> Content | None:
        return self._run(self.engine.get_next_reply(reply_channel))

    def replies(self, reply_channel: str | None = None) -> list[Content]:
        return self._run(self.engine.replies(reply_channel))

    def assert_reply(
        self,
        expected: Mapping[str, Any] | None = None,
        *,
        reply_channel: str | None = None,
        **keys: Any,
    ) -> Content:
        return self._run(self.engine.assert_reply(expected, reply_channel=reply_channel, **keys))

    def assert_no_reply(self, reply_channel: str | None = None) -> None:
        self._run(self.engine.assert_no_reply(reply_channel))

    def group_add(self, group: str, channel: str | None = None) -> None:
        self._run(self.engine.group_add(group, channel))

    def group_discard(self, group: str, channel: str | None = None) -> None:
        self._run(self.engine.group_discard(group, channel))

    def group_send(self, group: str, content: Mapping[str, Any]) -> None:
        self._run(self.engine.group_send(group, content))

    def group_channels(self, group: str) -> list[str]:
        return self._run(self.engine.group_channels(group))

"""``ConsumerTester``: drive routing and consumers with messages, assert on what they send.

Theory of operation
-------------------
The tester is a worker without the receive loop: ``send(channel, content)`` hands the
message straight to the real ``Dispatcher`` (the same matching, threads, control
exceptions and protocol answers as in production) over an in-memory layer, and returns
once the consumer has finished. A sync consumer's sends block until the layer took
them, an async consumer's are awaited, so when ``send`` returns everything the consumer
sent is already waiting on its channels: reading replies never waits, never sleeps, and
an empty channel means "nothing was sent", at once.

``send`` gives each message a reply channel (one per tester, like one connection, unless
``reply=`` names another), so a test reads answers with ``get_next_reply()``.

Two faces, one engine: ``AsyncConsumerTester`` for ``async def`` tests and
``ConsumerTester`` (its blocking twin, running the engine on a private event loop) for
plain ones. ``async with ConsumerTester(...) as t`` gives the async face.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Mapping, Sequence
from contextvars import Token
from typing import Any

from ..consumers.context import pop_layer, push_layer
from ..core.base import BaseChannelLayer
from ..core.codec import Content
from ..core.memory import InMemoryChannelLayer
from ..core.sync import release_sync_layer
from ..routing import Include, Route, Router
from ..worker.dispatch import Dispatcher, Outcome

__all__ = ["AsyncConsumerTester", "Routing"]

Routing = Sequence[Route | Include] | str | Router


def _matches(message: Mapping[str, Any], expected: Mapping[str, Any]) -> bool:
    return all(key in message and message[key] == value for key, value in expected.items())


class AsyncConsumerTester:
    """Async tester; see the module doc. ``layer`` must be an in-memory layer."""

    def __init__(
        self,
        routing: Routing,
        *,
        layer: InMemoryChannelLayer | None = None,
        consume_later_limit: int = 10,
        max_workers: int = 4,
    ) -> None:
        self.router = routing if isinstance(routing, Router) else Router(routing)
        self.layer = layer if layer is not None else InMemoryChannelLayer()
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers, thread_name_prefix="telephonist-test"
        )
        self.dispatcher = Dispatcher(
            self.router,
            self.layer,
            executor=self._executor,
            consume_later_limit=consume_later_limit,
        )
        self.outcomes: list[Outcome] = []
        self.reply_channel = self.new_reply_channel()
        self._token: Token[BaseChannelLayer | None] | None = None

    async def __aenter__(self) -> AsyncConsumerTester:
        self.activate()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        await self.close()

    def activate(self) -> None:
        """Make the tester's layer the one ``Channel(name)``/``Group(name)`` use in the
        test itself (to seed groups, or send outside any consumer)."""
        if self._token is None:
            self._token = push_layer(self.layer)

    def deactivate(self) -> None:
        """Undo ``activate`` (in the context that called it)."""
        if self._token is not None:
            pop_layer(self._token)
            self._token = None

    async def close(self) -> None:
        self.deactivate()
        # Joined from another thread: a consumer still running (its send was cancelled)
        # may need this loop to finish, which blocking the loop here would deadlock.
        await asyncio.to_thread(self._executor.shutdown, wait=True)
        release_sync_layer(self.layer)
        await self.layer.flush()

    # -- sending ------------------------------------------------------------------------

    def new_reply_channel(self) -> str:
        """A fresh reply channel: pass it as ``reply=`` to act as another connection.

        ``reply_channel`` is the tester's own, used by default."""
        return self.layer.new_channel_nowait("test.reply.")  # a layer receives only on its own

    async def send(
        self, channel: str, content: Mapping[str, Any] | None = None, *, reply: bool | str = True
    ) -> Outcome:
        """Dispatch one message as a worker would; returns when the consumer is done.

        ``reply=True`` adds the tester's reply channel (unless ``content`` has one),
        a string adds that one, ``False`` none. ``type`` defaults to the channel name.
        """
        message: Content = {"type": channel, **(content or {})}
        if reply is not False and "reply_channel" not in message:
            message["reply_channel"] = reply if isinstance(reply, str) else self.reply_channel
        outcome = await self.dispatcher.dispatch(channel, message)
        self.outcomes.append(outcome)
        return outcome

    async def send_and_consume(
        self, channel: str, content: Mapping[str, Any] | None = None, *, reply: bool | str = True
    ) -> Outcome:
        """``send``, asserting a consumer ran and finished (as Channels 1's helper)."""
        outcome = await self.send(channel, content, reply=reply)
        if outcome is not Outcome.CONSUMED:
            raise AssertionError(f"message on {channel!r} was not consumed: {outcome.name}")
        return outcome

    async def consume(self, channel: str) -> Outcome:
        """Dispatch the next message waiting on ``channel`` (one a consumer sent there,
        or one put back by ``ConsumeLater``); ``AssertionError`` if there is none."""
        message = await self.get_next_message(channel)
        if message is None:
            raise AssertionError(f"no message waiting on {channel!r}")
        outcome = await self.dispatcher.dispatch(channel, message)
        self.outcomes.append(outcome)
        return outcome

    # -- reading what consumers sent ----------------------------------------------------

    async def get_next_message(self, channel: str) -> Content | None:
        """The next message waiting on ``channel``, or ``None`` at once if there is none."""
        if self.layer.depths().get(channel, 0) == 0:
            return None
        return (await self.layer.receive_many(channel, 1))[0]

    async def get_next_reply(self, reply_channel: str | None = None) -> Content | None:
        """The next message on the reply channel (default: the tester's), or ``None``."""
        return await self.get_next_message(reply_channel or self.reply_channel)

    async def replies(self, reply_channel: str | None = None) -> list[Content]:
        """Every message waiting on the reply channel, in order (they are consumed)."""
        found = []
        channel = reply_channel or self.reply_channel
        for _ in range(self.layer.depths().get(channel, 0)):  # bounded: what is there now
            message = await self.get_next_message(channel)
            if message is None:
                break
            found.append(message)
        return found

    async def assert_reply(
        self,
        expected: Mapping[str, Any] | None = None,
        *,
        reply_channel: str | None = None,
        **keys: Any,
    ) -> Content:
        """Take the next reply and assert it has the given keys and values (others may
        be present): ``await t.assert_reply(type="websocket.send", text="hi")``."""
        wanted = {**(expected or {}), **keys}
        message = await self.get_next_reply(reply_channel)
        if message is None:
            raise AssertionError(f"expected a reply matching {wanted!r}, got none")
        if not _matches(message, wanted):
            raise AssertionError(f"reply {message!r} does not match {wanted!r}")
        return message

    async def assert_no_reply(self, reply_channel: str | None = None) -> None:
        message = await self.get_next_reply(reply_channel)
        if message is not None:
            raise AssertionError(f"expected no reply, got {message!r}")

    # -- groups -------------------------------------------------------------------------

    async def group_add(self, group: str, channel: str | None = None) -> None:
        await self.layer.group_add(group, channel or self.reply_channel)

    async def group_discard(self, group: str, channel: str | None = None) -> None:
        await self.layer.group_discard(group, channel or self.reply_channel)

    async def group_send(self, group: str, content: Mapping[str, Any]) -> None:
        await self.layer.group_send(group, dict(content))

    async def group_channels(self, group: str) -> list[str]:
        """Live members of ``group``."""
        return await self.layer.group_channels(group)

"""Drive the ``http`` interface in-process for protocol tests.

``twisted_reactor()`` installs Twisted's asyncio reactor on the running (session-scoped)
loop once per test process: Twisted's reactor is a process-wide singleton, so every
test that uses it shares one loop.

``MiniHost`` implements ``InterfaceHost`` over the real ``InMemoryChannelLayer`` and
``AsgiWorker`` plays the worker for protocol-level tests: it receives the interface's
events from the layer, runs an ASGI-style ``app(scope, receive, send)`` per connection
and sends its replies to the reply channel. End-to-end tests use the real host, worker
and routing instead (see ``test_e2e*.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from telephonist.core.exceptions import ChannelFull
from telephonist.core.memory import InMemoryChannelLayer
from telephonist.interfaces.base import ReplyHandler
from telephonist.interfaces.http import HttpConfig, HttpInterface

App = Callable[
    [
        dict[str, Any],
        Callable[[], Awaitable[dict[str, Any]]],
        Callable[[dict[str, Any]], Awaitable[None]],
    ],
    Awaitable[None],
]


def twisted_reactor() -> Any:
    from twisted.internet import asyncioreactor

    loop = asyncio.get_running_loop()
    import sys

    if "twisted.internet.reactor" not in sys.modules:
        asyncioreactor.install(loop)
    from twisted.internet import reactor

    if getattr(reactor, "_asyncioEventloop", None) is not loop:
        raise RuntimeError("Twisted's reactor is bound to another event loop")
    return reactor


class MiniHost:
    """A minimal ``InterfaceHost``: one receive task per reply channel."""

    def __init__(self, layer: InMemoryChannelLayer) -> None:
        self.layer = layer
        self.counts: Counter[str] = Counter()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._order: Counter[str] = Counter()
        self._watch: dict[str, list[asyncio.Event]] = {}
        self._activity = asyncio.Event()

    async def open_reply_channel(self, handler: ReplyHandler, prefix: str = "") -> str:
        name = await self.layer.new_channel(f"{prefix}." if prefix else "specific.")
        self._tasks[name] = asyncio.get_running_loop().create_task(self._pump(name, handler))
        return name

    async def _pump(self, name: str, handler: ReplyHandler) -> None:
        while True:
            message = await self.layer.receive(name)
            await handler(message)

    def close_reply_channel(self, channel: str) -> None:
        task = self._tasks.pop(channel, None)
        if task is not None:
            task.cancel()

    async def send_event(
        self, channel: str, message: dict[str, Any], *, connection: str | None = None
    ) -> None:
        if connection is not None:
            message = {**message, "reply_channel": connection, "order": self._order[connection]}
            self._order[connection] += 1
        try:
            await self.layer.send(channel, message)
        finally:
            self._activity.set()

    async def until(self, check: Callable[[], bool], within: float = 5.0) -> None:
        """Wait (bounded) until ``check()`` holds, re-checking after each event sent."""
        async with asyncio.timeout(within):
            while not check():
                self._activity.clear()
                await self._activity.wait()

    def count(self, name: str, n: int = 1) -> None:
        self.counts[name] += n
        for event in self._watch.pop(name, []):
            event.set()

    async def counted(self, name: str, within: float = 5.0) -> None:
        """Wait (bounded) until counter ``name`` has been incremented at least once."""
        if self.counts[name]:
            return
        event = asyncio.Event()
        self._watch.setdefault(name, []).append(event)
        await asyncio.wait_for(event.wait(), within)

    async def close(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        self._tasks.clear()


class AsgiWorker:
    """Runs ``app`` per connection from the layer's http/websocket channels."""

    CHANNELS = (
        "http.request",
        "http.disconnect",
        "websocket.connect",
        "websocket.receive",
        "websocket.disconnect",
    )

    def __init__(self, layer: InMemoryChannelLayer, app: App) -> None:
        self.layer = layer
        self.app = app
        self.queues: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self.received: list[dict[str, Any]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.errors: list[BaseException] = []

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        for channel in self.CHANNELS:
            self._tasks.append(loop.create_task(self._listen(channel)))

    async def _listen(self, channel: str) -> None:
        while True:
            message = await self.layer.receive(channel)
            self.received.append(message)
            reply = message["reply_channel"]
            first = message.get("order") == 0
            if first:
                queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
                self.queues[reply] = queue
                queue.put_nowait(message)
                self._tasks.append(asyncio.get_running_loop().create_task(self._run(message)))
            elif reply in self.queues:
                self.queues[reply].put_nowait(message)

    async def _run(self, first: dict[str, Any]) -> None:
        reply = first["reply_channel"]
        queue = self.queues[reply]

        async def send(message: dict[str, Any]) -> None:
            # The reply channel's capacity is the interface's backpressure: a full
            # channel means "the client is slower than you", so wait and retry.
            async with asyncio.timeout(30):
                while True:
                    try:
                        await self.layer.send(reply, message)
                        return
                    except ChannelFull:
                        await asyncio.sleep(0.005)

        try:
            await self.app(first, queue.get, send)
        except Exception as exc:  # surfaced by the test through .errors
            self.errors.append(exc)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task


@contextlib.asynccontextmanager
async def serve(
    app: App, *, run_worker: bool = True, **settings: Any
) -> AsyncIterator[tuple[HttpInterface, MiniHost, AsgiWorker]]:
    """An ``HttpInterface`` on a free loopback port with ``app`` answering (no one
    reads the layer with ``run_worker=False``: channels fill up)."""
    twisted_reactor()
    settings.setdefault("endpoints", ["tcp:port=0:interface=127.0.0.1"])
    layer = InMemoryChannelLayer(capacity=settings.pop("capacity", 100))
    host = MiniHost(layer)
    iface = HttpInterface(HttpConfig(**settings), host)
    worker = AsgiWorker(layer, app)
    if run_worker:
        worker.start()
    await iface.start()
    try:
        yield iface, host, worker
    finally:
        await iface.stop(2.0)
        await worker.stop()
        await host.close()


def port_of(iface: HttpInterface) -> int:
    port: int = iface.ports[0].getHost().port  # type: ignore[attr-defined]
    return port

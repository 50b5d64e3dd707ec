"""The real runtime around the ``http`` interface, in the test's process and loop.

``serve(app, ...)`` starts the production ``InterfaceServer`` with ``HttpInterface`` on
a free loopback port and a production ``Worker`` whose ``Router`` sends every HTTP and
WebSocket channel to ``asgi_consumer(app)``: a routed async consumer that runs an
ASGI-style ``app(first, receive, send)`` per connection. Connection affinity is what
makes that work: every event of a connection reaches this one worker, in order, so the
per-connection queue lives in the consumer (design 2: "per-connection state may live in
that worker"). Tests that need a project consumer (``HttpConsumer``, ``WebsocketConsumer``,
``ChatConsumer``) pass their own ``routing``.

Twisted's reactor is a process-wide singleton bound to one loop, so all these tests run
on the session loop (``conftest.py``) and the reactor is installed there once, through
the host's own ``install_asyncio_reactor``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from telephonist.config.model import AffinitySettings, ServerSettings, WorkerSettings
from telephonist.consumers import Message
from telephonist.core.exceptions import ChannelFull
from telephonist.core.memory import InMemoryChannelLayer
from telephonist.interfaces.http import HttpConfig, HttpInterface
from telephonist.interfaces.plugins import ConfiguredInterface, InterfacePlugin
from telephonist.routing import Include, Route, Router, route
from telephonist.server import InterfaceServer
from telephonist.server.reactor import install_asyncio_reactor, start_reactor
from telephonist.worker import Worker

Msg = dict[str, Any]
App = Callable[
    [Msg, Callable[[], Awaitable[Msg]], Callable[[Msg], Awaitable[None]]], Awaitable[None]
]

CHANNELS = (
    "http.request",
    "http.disconnect",
    "websocket.connect",
    "websocket.receive",
    "websocket.disconnect",
)
AFFINITY = AffinitySettings(heartbeat_interval=0.5, bind_timeout=5.0)


def twisted_reactor() -> Any:
    reactor = install_asyncio_reactor(asyncio.get_running_loop())
    start_reactor(reactor)
    return reactor


class Probe:
    """What tests look at: the interface's counters (as ``telephonist status`` shows
    them), the layer, and bounded waits on the interface's activity."""

    def __init__(self, server: InterfaceServer, layer: InMemoryChannelLayer) -> None:
        self.server = server
        self.layer = layer
        self._activity = asyncio.Event()
        self.view: Any = None

    def instrument(self, iface: HttpInterface) -> None:
        # Wrap the interface's view of the host so tests can wait on what it does.
        view: Any = iface.host
        self.view = view
        count, send_event = view.count, view.send_event

        def counting(name: str, n: int = 1) -> None:
            count(name, n)
            self._activity.set()

        async def sending(
            channel: str, message: Msg, *, connection: str | None = None, last: bool = False
        ) -> None:
            try:
                await send_event(channel, message, connection=connection, last=last)
            finally:
                self._activity.set()

        view.count, view.send_event = counting, sending

    @property
    def counts(self) -> Counter[str]:
        counters: Counter[str] = self.view.counters
        return counters

    async def until(self, check: Callable[[], bool], within: float = 5.0) -> None:
        """Wait (bounded) until ``check()`` holds, re-checking after each event the
        interface sends or counts."""
        async with asyncio.timeout(within):
            while not check():
                self._activity.clear()
                await self._activity.wait()

    async def counted(self, name: str, within: float = 5.0) -> None:
        await self.until(lambda: self.counts[name] > 0, within)


class AppRunner:
    """``asgi_consumer``'s state: per-connection queues, what it saw, what failed."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.queues: dict[str, asyncio.Queue[Msg]] = {}
        self.received: list[Msg] = []
        self.errors: list[BaseException] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def consume(self, message: Message, **kwargs: str) -> None:
        content = dict(message.content)
        self.received.append(content)
        reply = content["reply_channel"]
        if content.get("order") == 0:
            queue: asyncio.Queue[Msg] = asyncio.Queue()
            self.queues[reply] = queue
            queue.put_nowait(content)
            channel = message.reply_channel
            assert channel is not None

            async def send(answer: Msg) -> None:
                # A full reply channel is the interface's backpressure ("the client is
                # slower than you"): wait and retry, bounded.
                async with asyncio.timeout(30):
                    while True:
                        try:
                            await channel.send(answer)
                            return
                        except ChannelFull:
                            await asyncio.sleep(0.005)

            task = asyncio.get_running_loop().create_task(self._run(content, queue, send))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif reply in self.queues:
            self.queues[reply].put_nowait(content)

    async def _run(self, first: Msg, queue: asyncio.Queue[Msg], send: Any) -> None:
        try:
            await self.app(first, queue.get, send)
        except Exception as exc:  # surfaced to the test through .errors
            self.errors.append(exc)
        finally:
            self.queues.pop(first["reply_channel"], None)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def http_plugin(config: HttpConfig) -> ConfiguredInterface:
    plugin = InterfacePlugin(
        "http", "telephonist.interfaces.http:HttpInterface", "telephonist", cls=HttpInterface
    )
    return ConfiguredInterface(plugin, HttpInterface, config)


@contextlib.asynccontextmanager
async def serve(
    app: App | None = None,
    *,
    routing: Sequence[Route | Include] | None = None,
    run_worker: bool = True,
    capacity: int = 100,
    worker_concurrency: int = 64,
    **settings: Any,
) -> AsyncIterator[tuple[HttpInterface, Probe, AppRunner]]:
    """Host + worker serving ``HttpConfig(**settings)`` on a free loopback port."""
    twisted_reactor()
    settings.setdefault("endpoints", ["tcp:port=0:interface=127.0.0.1"])
    layer = InMemoryChannelLayer(capacity=capacity)
    host = InterfaceServer(
        layer, [http_plugin(HttpConfig(**settings))], ServerSettings(drain_timeout=5.0), AFFINITY
    )
    runner = AppRunner(app or _not_found)
    worker: Worker | None = None
    if run_worker:
        routes = list(routing) if routing is not None else [route(CHANNELS, runner.consume)]
        worker = Worker(
            layer, Router(routes), WorkerSettings(concurrency=worker_concurrency), AFFINITY
        )
        await worker.start()
    await host.start()
    iface = host.interfaces["http"]
    assert isinstance(iface, HttpInterface)
    probe = Probe(host, layer)
    probe.instrument(iface)
    try:
        yield iface, probe, runner
    finally:
        await host.stop(drain_timeout=2.0)
        if worker is not None:
            await worker.stop(drain_timeout=2.0)
        await runner.stop()
        await layer.close()


async def _not_found(first: Msg, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 404, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def port_of(iface: HttpInterface) -> int:
    port: int = iface.ports[0].getHost().port  # type: ignore[attr-defined]
    return port

"""``AsgiApplicationConsumer``: an ASGI 3 application (a Channels 4 project's
``ProtocolTypeRouter`` and everything under it) hosted in the worker.

Theory of operation
-------------------
An ASGI server runs one *instance* of the application per connection: ``app(scope,
receive, send)``, a coroutine that lives as long as the connection and keeps what it
stores on ``self``. Here the connection's events arrive as layer messages, and
connection affinity already sends every event of one connection, in order, to the one
worker that took its first event, one at a time. So the worker is where the instance
lives:

* the first event (``websocket.connect``, the first ``http.request``) starts the
  instance as a task, with the scope rebuilt from that event (:mod:`.asgi_events`);
* every event (the first included) is put on the instance's queue, which its
  ``receive()`` reads. The queue is bounded (``queue_limit``): an application that
  does not keep up holds its connection's runner, which holds the worker's slot, which
  leaves messages on the layer, whose capacity makes the interface answer overload.
  An application that reads nothing for ``queue_timeout`` seconds is not waited on
  forever: its WebSocket is closed with 1013 (try again later) and the event counted;
* ``send()`` goes to the connection's reply channel; a full reply channel is the
  interface pacing a slow client, so sends wait for room (``send_timeout``).

A connection ends when its disconnect arrives or the application closes it (a
WebSocket close, the last piece of an HTTP response), or when the worker releases it
(:meth:`release`: its interface server was lost, or the worker stops; a release
because the connection's events are all consumed says nothing about the client and
is ignored): the instance then gets a disconnect
event and ``close_timeout`` seconds to return before it is cancelled, as Daphne's
``application_close_timeout``. An exception in the application is logged (rate-limited)
and answered the protocol's way: 500 before an HTTP response started, WebSocket close
1011 (403 before the handshake was accepted). An application that returns without
ending its connection gets the same answer a server gives (close 1000, or 500).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any, ClassVar

from ..core.base import BaseChannelLayer
from ..core.exceptions import ChannelFull
from ..core.ratelog import RateLimitedLog
from ..redaction import loggable_channel
from ..spec import http, websocket
from .asgi_events import asgi_event, asgi_scope, ends_connection, scope_type
from .message import Message

__all__ = ["ASGIApp", "AsgiApplicationConsumer"]

log = logging.getLogger("telephonist.asgi")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_DISCONNECT = {"websocket": websocket.DISCONNECT, "http": http.DISCONNECT}


class _Instance:
    """One connection's application instance and what the host knows about it."""

    def __init__(self, host: AsgiApplicationConsumer, reply: str, kind: str) -> None:
        self.host = host
        self.reply = reply
        self.kind = kind
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(host.queue_limit)
        self.layer: BaseChannelLayer | None = None
        self.task: asyncio.Task[None] | None = None
        self.started = False  # WebSocket accepted, or HTTP response started
        self.ended = False  # the connection is over (either side)
        self._timer: asyncio.TimerHandle | None = None

    async def receive(self) -> dict[str, Any]:
        return await self.queue.get()

    async def send(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if self.ended:
            return  # after the close or the disconnect: an ASGI server drops it too
        if kind in (websocket.ACCEPT, http.RESPONSE_START):
            self.started = True
        assert self.layer is not None
        await self.host.reply(self.layer, self.reply, message)
        if ends_connection(message):
            self.end()

    def end(self) -> None:
        """The connection is over: the application has ``close_timeout`` to return."""
        if self.ended:
            return
        self.ended = True
        if self.task is not None and not self.task.done():
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self.host.close_timeout, self.task.cancel)

    def finished(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


class AsgiApplicationConsumer:
    """Routable with ``route(list(AsgiApplicationConsumer.channels), host)``; one host
    (``application`` or a ``load()`` that returns it, called on first use) serves every
    connection of the process, one instance each."""

    channels: ClassVar[tuple[str, ...]] = (*websocket.EVENT_CHANNELS, *http.EVENT_CHANNELS)
    is_async: ClassVar[bool] = True
    #: Events waiting for the application's ``receive()``, per connection.
    queue_limit: ClassVar[int] = 64
    #: Seconds an event waits for room in that queue before the connection is closed.
    queue_timeout: ClassVar[float] = 30.0
    #: Seconds an instance may run once its connection is over (Daphne's default).
    close_timeout: ClassVar[float] = 10.0
    #: Seconds a send may wait for room on a full reply channel.
    send_timeout: ClassVar[float] = 60.0

    def __init__(
        self,
        application: ASGIApp | None = None,
        *,
        load: Callable[[], ASGIApp] | None = None,
        name: str = "ASGI application",
        extra_counters: Callable[[], Mapping[str, int]] | None = None,
    ) -> None:
        if (application is None) == (load is None):
            raise ValueError("give the application or a function that loads it, not both")
        self._app = application
        self._load = load
        self.name = name
        self.counters: Counter[str] = Counter()
        self._extra_counters = extra_counters
        self._instances: dict[str, _Instance] = {}
        self._log = RateLimitedLog(log)

    def __len__(self) -> int:
        return len(self._instances)

    def status_counters(self) -> dict[str, int]:
        """Its counters and live instances, for ``telephonist status`` (the worker's
        dispatcher reads this from every routed consumer that has it)."""
        counts = {**self.counters, "instances_live": len(self._instances)}
        if self._extra_counters is not None:
            counts.update(self._extra_counters())
        return counts

    def instance(self, connection: str) -> asyncio.Task[None] | None:
        """The task running ``connection``'s instance, while it runs."""
        found = self._instances.get(connection)
        return found.task if found is not None else None

    @property
    def application(self) -> ASGIApp:
        if self._app is None:
            assert self._load is not None
            self._app = self._load()
        return self._app

    # -- events -----------------------------------------------------------------------

    async def __call__(self, message: Message, **kwargs: str) -> None:
        reply = message.reply_channel
        if reply is None:
            self._log.warning("no-reply", "%s without reply_channel ignored", message.type)
            return
        instance = self._instances.get(reply.name)
        if instance is None:
            kind = scope_type(str(message.type))
            if kind is None or message.content.get("order", 0) != 0:
                # An event after its instance returned (it closed, failed, or answered
                # before reading the whole body): the connection is ending already.
                self.counters["events_after_end"] += 1
                return
            instance = self._start(reply.name, kind, message)
        event = asgi_event(message.content)
        if instance.ended or event["type"] == _DISCONNECT[instance.kind]:
            # Nobody waits for room once the connection is over: the close timeout
            # ends an instance that reads no more.
            instance.end()
            try:
                instance.queue.put_nowait(event)
            except asyncio.QueueFull:
                self.counters["events_after_end"] += 1
            return
        try:
            async with asyncio.timeout(self.queue_timeout):
                await instance.queue.put(event)
        except TimeoutError:
            self.counters["events_dropped_app_stalled"] += 1
            self._log.warning(
                f"stalled:{self.name}",
                "%s read no event of %s for %.0f s: closing it",
                self.name,
                loggable_channel(reply.name),
                self.queue_timeout,
            )
            await self._answer_failure(instance, code=1013)

    def _start(self, reply: str, kind: str, message: Message) -> _Instance:
        instance = _Instance(self, reply, kind)
        instance.layer = message.channel_layer
        scope = asgi_scope(message.content)
        self._instances[reply] = instance
        instance.task = asyncio.get_running_loop().create_task(
            self._run(instance, scope), name=f"asgi:{loggable_channel(reply)}"
        )
        self.counters["instances"] += 1
        return instance

    def release(self, connection: str, code: int = 1006) -> None:
        """The worker dropped ``connection`` (see the module doc); safe to call for any.
        A WebSocket instance's disconnect event gets ``code`` (1006: abnormal closure)."""
        instance = self._instances.get(connection)
        if instance is None or instance.ended:
            return
        instance.end()
        event = asgi_event({"type": _DISCONNECT[instance.kind], "code": code})
        with contextlib.suppress(asyncio.QueueFull):
            instance.queue.put_nowait(event)

    async def drain(self, within: float | None = None) -> None:
        """The worker stops: every instance gets its disconnect (1001, going away) and
        ``within`` seconds (default ``close_timeout``) to return, while the layer is
        still open for its last calls (``group_discard``); then the rest are cancelled."""
        for connection in list(self._instances):
            self.release(connection, code=1001)
        tasks = {i.task for i in self._instances.values() if i.task is not None}
        if not tasks:
            return
        _, late = await asyncio.wait(
            tasks, timeout=self.close_timeout if within is None else within
        )
        for task in late:
            task.cancel()
        if late:
            log.warning(
                "%s: %d instances still running after the drain: cancelled", self.name, len(late)
            )
            await asyncio.wait(late)

    # -- the instance -----------------------------------------------------------------

    async def _run(self, instance: _Instance, scope: Scope) -> None:
        try:
            await self.application(scope, instance.receive, instance.send)
        except asyncio.CancelledError:
            if not instance.ended:
                raise  # the worker is stopping: not ours to swallow
            self.counters["instances_cancelled"] += 1
        except Exception as exc:
            self.counters["app_errors"] += 1
            self._log.warning(
                f"error:{self.name}:{type(exc).__name__}",
                "%s failed on a %s connection (%s): %r",
                self.name,
                instance.kind,
                loggable_channel(instance.reply),
                exc,
                exc_info=exc,
            )
            await self._answer_failure(instance, code=1011)
        else:
            if not instance.ended:
                # Returned with its connection open: what an ASGI server does then.
                await self._answer_failure(instance, code=1000, status=500)
        finally:
            instance.finished()
            if self._instances.get(instance.reply) is instance:
                del self._instances[instance.reply]

    async def _answer_failure(self, instance: _Instance, *, code: int, status: int = 500) -> None:
        if instance.ended or instance.layer is None:
            return
        if instance.kind == "websocket":
            # Before the accept, any close refuses the handshake (the interface says 403).
            answer: list[dict[str, Any]] = [{"type": websocket.CLOSE, "code": code}]
        elif not instance.started:
            answer = [
                {
                    "type": http.RESPONSE_START,
                    "status": status,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8")],
                },
                {"type": http.RESPONSE_BODY, "body": b"Internal Server Error"},
            ]
        else:
            answer = []  # a response already under way: the interface's timeouts end it
        instance.end()
        for message in answer:
            with contextlib.suppress(Exception):
                await self.reply(instance.layer, instance.reply, message)

    # -- replies ----------------------------------------------------------------------

    async def reply(self, layer: BaseChannelLayer, channel: str, message: dict[str, Any]) -> None:
        """Send to a reply channel, waiting (bounded) while the interface has no room."""
        try:
            await layer.send(channel, message)
            return
        except ChannelFull:
            pass  # the timeout below is armed only when it is needed
        delay = 0.001
        async with asyncio.timeout(self.send_timeout):
            while True:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.05)
                try:
                    await layer.send(channel, message)
                    return
                except ChannelFull:
                    continue

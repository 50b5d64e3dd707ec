"""``DjangoViewConsumer``: Django views as the consumer of ``http.request``.

Theory of operation
-------------------
Channels 1 ran views in worker threads through a handler of its own; Channels 4 runs
them through Django's ``ASGIHandler``, which runs every sync view and sync middleware
in *one* thread (``sync_to_async(thread_sensitive=True)``): that is why a sync view
served by Daphne did ~450 req/s on this machine against ~2,600 for Channels 1's thread
path. So there are two paths, both Django's own handlers, so middleware, sessions,
auth, streaming and file responses and uploads behave exactly as under WSGI/ASGI:

* **sync views** (most Django code): Django's ``WSGIHandler`` in this consumer's thread
  pool (``threads``), with a WSGI environ built from the message. ``request_started``/
  ``request_finished`` fire as under any WSGI server, so database connections get
  Django's own per-request hygiene. The response streams back chunk by chunk.
* **async views** (the URL resolves to a coroutine function): on the worker's event
  loop through ``AsyncViewHandler`` (``async_handler.py``), Django's ``ASGIHandler``
  without its avoidable per-request costs (a thread started per request, a thread hop
  per middleware hook): two hops to one reused thread per request.

The choice is made per request by resolving ``path_info`` against the URLconf (cached
by Django), before any middleware runs. ``docs/http.md`` has the measurements.

The consumer itself is async: it assembles bodies that arrive in several messages
(``asgi_body``), then hands the request to one of the paths. Replies go to the reply
channel; a full reply channel is the interface telling us the client reads slower than
we write, so sends back off and retry (bounded by ``send_timeout``) and a streaming
view simply produces at the client's pace.

``http.disconnect`` (route it too, as ``route_class`` does) means the client has gone.
The consumer opts in to being interrupted by it (``consumers.interrupt``) while a view
runs, so the worker lets it overtake the connection's queue: an async view is
cancelled where it waits (``CancelledError``, then ``request_finished``, as under
Django's ``ASGIHandler``), a streaming response stops at its next chunk (async or
sync), and nothing more is sent. A sync view running in a thread cannot be cancelled:
it runs to its end, its whole response is dropped, and the disconnect is delivered
after it, once, like any event.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import threading
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, ClassVar

from ..consumers.interrupt import interruptible
from ..consumers.message import Message
from ..core.base import BaseChannelLayer
from ..core.exceptions import ChannelFull
from ..spec.http import DISCONNECT, EVENT_CHANNELS, RESPONSE_BODY, RESPONSE_START
from .asgi_body import Body, BodyStore
from .asgi_environ import asgi_scope, wsgi_environ

__all__ = ["DjangoViewConsumer", "view_consumer"]

log = logging.getLogger("telephonist.django.views")


class _FileWrapper:
    """``wsgi.file_wrapper``: a ``FileResponse`` read in ``chunk_bytes`` blocks instead
    of Django's 4 KiB default, so a download is few, full messages."""

    def __init__(self, filelike: Any, block_size: int) -> None:
        self.filelike = filelike
        self.block_size = block_size

    def __iter__(self) -> Any:
        while True:
            block = self.filelike.read(self.block_size)
            if not block:
                return
            yield block

    def close(self) -> None:
        self.filelike.close()


class _Reply:
    """Sends to one reply channel, with backpressure, from the loop or from a thread."""

    def __init__(self, layer: BaseChannelLayer, channel: str, timeout: float) -> None:
        self.layer = layer
        self.channel = channel
        self.timeout = timeout
        # Set by http.disconnect: an Event for the view's thread, a future for the loop.
        self.gone = threading.Event()
        self.gone_on_loop: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def disconnect(self) -> None:
        self.gone.set()
        if not self.gone_on_loop.done():
            self.gone_on_loop.set_result(None)

    async def send(self, message: dict[str, Any]) -> None:
        try:
            await self.layer.send(self.channel, message)
            return
        except ChannelFull:
            pass  # the timeout below is armed only when it is needed (not per message)
        delay = 0.001
        async with asyncio.timeout(self.timeout):
            while True:
                if self.gone.is_set():
                    return  # nobody will read it: do not wait for room
                try:
                    await self.layer.send(self.channel, message)
                    return
                except ChannelFull:
                    # The interface takes replies at the client's pace: wait for room.
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 0.05)


class DjangoViewConsumer:
    """Routable with ``route_class(DjangoViewConsumer)`` (``http.request`` and
    ``http.disconnect``) or ``route("http.request", DjangoViewConsumer.as_consumer())``."""

    channels: ClassVar[tuple[str, ...]] = EVENT_CHANNELS
    #: Threads running sync views (Django's WSGI handler).
    threads: ClassVar[int] = 16
    #: Idle threads kept for async views' requests (each request in flight has one, as
    #: under Django's ASGI handler; more start in a burst and stop after it).
    async_threads: ClassVar[int] = 128
    #: Largest body of one response message (file blocks; below the layer's limit).
    chunk_bytes: ClassVar[int] = 64 * 1024
    #: Seconds a reply may wait for room on a full reply channel before giving up.
    send_timeout: ClassVar[float] = 60.0
    is_async: ClassVar[bool] = True

    def __init__(self) -> None:
        self._ready = False
        self._setup_lock = threading.Lock()
        self._executor = concurrent.futures.ThreadPoolExecutor(
            self.threads, thread_name_prefix="telephonist-django"
        )
        self._bodies: BodyStore | None = None
        self._replies: dict[str, _Reply] = {}
        self._wsgi: Any = None
        self._asgi: Any = None

    @classmethod
    def as_consumer(cls) -> Callable[..., Coroutine[Any, Any, None]]:
        """One instance (its thread pool, Django's handlers) for every request."""
        instance = cls()

        async def consumer(message: Message, **kwargs: str) -> None:
            await instance(message, **kwargs)

        consumer.__name__ = cls.__name__
        consumer.__qualname__ = cls.__qualname__
        consumer.__module__ = cls.__module__
        consumer.consumer_class = cls  # type: ignore[attr-defined]
        consumer.is_async = True  # type: ignore[attr-defined]
        return consumer

    @classmethod
    def channel_names(cls) -> set[str]:
        return set(cls.channels)

    # -- setup ------------------------------------------------------------------------

    def _setup(self) -> None:
        with self._setup_lock:
            if self._ready:
                return
            import django
            from django.apps import apps
            from django.conf import settings
            from django.core.handlers.wsgi import WSGIHandler

            from .async_handler import AsyncViewHandler, Lanes

            if not apps.ready:
                django.setup(set_prefix=False)
            self._bodies = BodyStore(settings.FILE_UPLOAD_MAX_MEMORY_SIZE)
            self._wsgi = WSGIHandler()
            self._asgi = AsyncViewHandler(Lanes(self.async_threads))
            self._ready = True

    # -- consuming --------------------------------------------------------------------

    async def __call__(self, message: Message, **kwargs: str) -> None:
        if not self._ready:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._setup)
        assert self._bodies is not None
        reply_channel = message.reply_channel
        if reply_channel is None:
            log.warning("%s without reply_channel ignored", message.type)
            return
        key = reply_channel.name
        if message.type == DISCONNECT:
            self._bodies.discard(key)
            reply = self._replies.get(key)
            if reply is not None:
                reply.disconnect()
            return
        body = self._bodies.add(key, message.content)
        if body is None:
            return  # more chunks to come
        reply = self._replies[key] = _Reply(message.channel_layer, key, self.send_timeout)
        try:
            # The client leaving while the view runs stops it (the module docstring).
            with interruptible(reply.disconnect, connection=key):
                if self._is_async_view(body):
                    await self._run_async(body, reply)
                else:
                    await self._run_sync(body, reply)
        finally:
            self._replies.pop(key, None)
            body.file.close()

    def _is_async_view(self, body: Body) -> bool:
        from django.conf import settings
        from django.urls import get_urlconf

        first = body.first
        path: str = first.get("path", "/")
        root: str = first.get("root_path", "") or ""
        path_info = path[len(root) :] if root and path.startswith(root) else path
        # Resolving is a regex walk on the loop for every request: remembered per path
        # (bounded), keyed by the URLconf so a changed ROOT_URLCONF is not served stale.
        return _resolves_to_async(get_urlconf() or settings.ROOT_URLCONF, path_info)

    # -- sync views: Django's WSGI handler in a thread --------------------------------

    async def _run_sync(self, body: Body, reply: _Reply) -> None:
        loop = asyncio.get_running_loop()
        first = await loop.run_in_executor(self._executor, self._wsgi_call, body, reply, loop)
        if reply.gone.is_set():
            return  # the client left while the view ran: nobody to answer
        for message in first:  # a whole (non-streaming) response: sent from the loop
            await reply.send(message)

    def _wsgi_call(
        self, body: Body, reply: _Reply, loop: asyncio.AbstractEventLoop
    ) -> list[dict[str, Any]]:
        environ = wsgi_environ(body.first, body.file, body.length)
        environ["wsgi.file_wrapper"] = lambda f, _size=0: _FileWrapper(f, self.chunk_bytes)
        started: list[dict[str, Any]] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> None:
            started.append(
                {
                    "type": RESPONSE_START,
                    "status": int(status.split(" ", 1)[0]),
                    "headers": [
                        (name.lower().encode("latin-1"), value.strip().encode("latin-1"))
                        for name, value in headers
                    ],
                }
            )

        result: Iterable[bytes] = self._wsgi(environ, start_response)
        try:
            from django.http import HttpResponse

            if isinstance(result, HttpResponse) and not result.streaming:
                # The common case: start and body go back to the loop in one hop.
                return [*started, {"type": RESPONSE_BODY, "body": result.content}]
            self._send_from_thread(started[0], reply, loop)
            for chunk in result:
                if reply.gone.is_set():
                    return []  # the client went away: stop producing, send nothing more
                if chunk:
                    message = {"type": RESPONSE_BODY, "body": chunk, "more_body": True}
                    self._send_from_thread(message, reply, loop)
            self._send_from_thread({"type": RESPONSE_BODY, "body": b""}, reply, loop)
            return []
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()  # sends request_finished: Django's connection hygiene

    @staticmethod
    def _send_from_thread(
        message: dict[str, Any], reply: _Reply, loop: asyncio.AbstractEventLoop
    ) -> None:
        asyncio.run_coroutine_threadsafe(reply.send(message), loop).result()

    # -- async views: Django's handler, lean, on the loop ------------------------------

    async def _run_async(self, body: Body, reply: _Reply) -> None:
        await self._asgi.serve(asgi_scope(body.first), body.file, reply.send, reply.gone_on_loop)


@functools.lru_cache(maxsize=4096)
def _resolves_to_async(urlconf: Any, path_info: str) -> bool:
    from asgiref.sync import iscoroutinefunction
    from django.urls import Resolver404, resolve

    try:
        match = resolve(path_info, urlconf)
    except Resolver404:
        return False  # Django answers 404 itself, through the sync path
    return bool(iscoroutinefunction(match.func))


#: The consumer ``route("http.request", view_consumer)`` (and ``telephonist.django.routing``)
#: uses: one ``DjangoViewConsumer`` for the process. Its threads start on first use.
view_consumer: Callable[..., Coroutine[Any, Any, None]] = DjangoViewConsumer.as_consumer()

"""``AsyncViewHandler``: Django's ASGI handler without its avoidable per-request costs.

Theory of operation
-------------------
Django's ``ASGIHandler`` serves an async view on the event loop, but pays around it
(measured in ``docs/http.md``): a new thread per request (``ThreadSensitiveContext``
makes a one-thread executor for each request and shuts it down after), a thread hop for
``request_started``'s sync receivers, two per ``MiddlewareMixin`` middleware and one
per ``process_view``, one for ``response.close()`` (``request_finished``), two tasks and
an ``asyncio.wait`` to listen for ``http.disconnect``, and a copy of the body into a
spooled file. This subclass keeps everything Django's handler promises and drops those:

* **One thread per request, reused:** each request runs its sync code in a *lane*
  (a one-thread executor) taken from a pool and given back after the request
  (``ThreadSensitiveContext(executor=...)``), so every ``thread_sensitive`` call of the
  request, the view's own ORM calls included, is in one thread as under Django's
  handler, but no thread is started per request.
* **Two hops instead of ~17:** ``request_started``, the outer run of hook middleware's
  ``process_request`` and (when that run reaches the view) resolving and
  ``process_view`` run in the lane in one hop (``middleware_run.HookRun``); their
  ``process_response``, the 4xx/5xx log line, and for a whole (non-streaming) response
  ``response.close()`` (``request_finished``) in a second. Same hooks, same order, same
  thread, same exception handling. The one reordering: for a non-streaming response,
  ``request_finished`` fires once the reply messages are built and before they are sent,
  as it already does for sync views on this consumer (``views.py``). A streaming or file
  response is closed after its last chunk, as Django does.
* **Disconnect without tasks:** the view runs in the consumer's own task; the reply's
  ``gone`` future cancels that task, so the view sees ``CancelledError`` as under
  Django's handler, and ``request_finished`` still fires.
* **The body as received:** the consumer already spooled it (``asgi_body``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Awaitable, Callable
from typing import Any

from django.core.handlers.asgi import ASGIHandler
from django.http import FileResponse

from .middleware_run import HookRun, ViewMatch

__all__ = ["AsyncViewHandler", "Lanes"]

Send = Callable[[dict[str, Any]], Awaitable[None]]


class Lanes:
    """One-thread executors, reused: one per request in flight (Django starts a thread
    per request instead). At most ``keep`` idle ones are kept; a burst beyond that
    starts more, and they are shut down when given back."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self._idle: list[concurrent.futures.ThreadPoolExecutor] = []

    def take(self) -> concurrent.futures.ThreadPoolExecutor:
        if self._idle:
            return self._idle.pop()
        return concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="telephonist-async")

    def give(self, lane: concurrent.futures.ThreadPoolExecutor) -> None:
        if len(self._idle) < self.keep:
            self._idle.append(lane)
        else:
            lane.shutdown(wait=False)


def _start_message(response: Any) -> dict[str, Any]:
    """``http.response.start`` as Django's ``ASGIHandler.send_response`` builds it."""
    headers = []
    for header, value in response.items():
        if isinstance(header, str):
            header = header.encode("ascii")
        if isinstance(value, str):
            value = value.encode("latin1")
        headers.append((bytes(header), bytes(value)))
    for cookie in response.cookies.values():
        headers.append((b"Set-Cookie", cookie.output(header="").encode("ascii").strip()))
    return {"type": "http.response.start", "status": response.status_code, "headers": headers}


class AsyncViewHandler(ASGIHandler):
    """Serves one request whose body is already read; see the module docstring."""

    def __init__(self, lanes: Lanes) -> None:
        from asgiref.sync import sync_to_async

        super().__init__()  # load_middleware(is_async=True): Django's chain, unchanged
        self.lanes = lanes
        self.hooks = HookRun(self)
        # The two hops of every request, made once (thread_sensitive: the request's lane).
        self._enter_hop = sync_to_async(self._enter)
        self._leave_hop = sync_to_async(self._leave)

    async def serve(
        self, scope: dict[str, Any], body_file: Any, send: Send, gone: asyncio.Future[None]
    ) -> None:
        from asgiref.sync import ThreadSensitiveContext

        lane = self.lanes.take()
        try:
            async with ThreadSensitiveContext(executor=lane):
                await self._serve(scope, body_file, send, gone)
        finally:
            self.lanes.give(lane)

    async def _serve(
        self, scope: dict[str, Any], body_file: Any, send: Send, gone: asyncio.Future[None]
    ) -> None:
        from asgiref.sync import sync_to_async
        from django.conf import settings
        from django.core import signals
        from django.core.handlers.asgi import get_script_prefix
        from django.urls import set_script_prefix, set_urlconf

        set_script_prefix(get_script_prefix(scope))
        request, error = self.create_request(scope, body_file)
        if request is None:
            await sync_to_async(self._started)(scope)
            for message in await sync_to_async(self._finish)(error):
                await send(message)
            return
        task = asyncio.current_task()
        assert task is not None
        cancelled: list[bool] = []

        def on_gone(_: object) -> None:
            cancelled.append(True)
            task.cancel()

        response: Any = None
        streaming: Any = None  # the response being streamed, closed here at the end
        gone.add_done_callback(on_gone)
        try:
            set_urlconf(settings.ROOT_URLCONF)
            response, depth, view = await self._enter_hop(scope, request)
            if response is None:
                response = await self._inner(request, view)
            # The response exists: process_response and close() run whatever happens.
            gone.remove_done_callback(on_gone)
            if cancelled:  # the view caught the CancelledError and answered anyway
                task.uncancel()
                cancelled.clear()
            response, messages = await self._leave_hop(request, response, depth)
            if messages is not None:  # whole: already closed (request_finished)
                for message in messages:
                    await send(message)
                return
            streaming = response
            gone.add_done_callback(on_gone)  # streaming: the client leaving stops it
            await self._stream(response, send)
        except asyncio.CancelledError:
            if not cancelled or task.uncancel() > 0:
                raise  # not (only) the client leaving: the worker is stopping
            if streaming is None:  # Django's handler: request_finished, nothing to close
                await signals.request_finished.asend(sender=self.__class__)
                return
        except Exception:
            if streaming is not None:  # a send failed: still close it (request_finished)
                await sync_to_async(streaming.close)()
            raise
        finally:
            gone.remove_done_callback(on_gone)
        await sync_to_async(response.close)()

    # -- in the request's lane (sync) --------------------------------------------------

    def _started(self, scope: dict[str, Any]) -> None:
        from django.core import signals

        signals.request_started.send(sender=self.__class__, scope=scope)

    def _enter(self, scope: dict[str, Any], request: Any) -> tuple[Any, int, ViewMatch | None]:
        self._started(scope)
        return self.hooks.before(self, request)

    def _leave(
        self, request: Any, response: Any, depth: int
    ) -> tuple[Any, list[dict[str, Any]] | None]:
        """``process_response`` hooks and what ``get_response_async`` does after the
        chain; for a whole response also its messages and ``close()``."""
        from django.utils.log import log_response

        response = self.hooks.after(request, response, depth)
        response._resource_closers.append(request.close)
        if response.status_code >= 400:
            log_response(
                "%s: %s", response.reason_phrase, request.path, response=response, request=request
            )
        response._handler_class = self.__class__
        if isinstance(response, FileResponse):
            response.block_size = self.chunk_size
        if response.streaming:
            return response, None
        return response, self._finish(response)

    def _finish(self, response: Any) -> list[dict[str, Any]]:
        messages = [_start_message(response)]
        for chunk, last in self.chunk_bytes(response.content):
            messages.append({"type": "http.response.body", "body": chunk, "more_body": not last})
        response.close()  # request_finished: Django's connection hygiene
        return messages

    # -- on the loop ---------------------------------------------------------------------

    async def _inner(self, request: Any, view: ViewMatch | None) -> Any:
        """The chain below the hook middleware; or the view itself when the first hop
        already resolved it and ran ``process_view``."""
        if view is None:
            return await self.hooks.inner(request)
        from asgiref.sync import sync_to_async
        from django.core.handlers.exception import response_for_exception

        try:
            return await self._call_view(request, *view)
        except Exception as exc:  # Django's wrapper around _get_response_async
            return await sync_to_async(response_for_exception)(request, exc)

    async def _call_view(
        self, request: Any, callback: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """``BaseHandler._get_response_async`` after ``process_view``."""
        from asgiref.sync import iscoroutinefunction, sync_to_async

        wrapped = self.make_view_atomic(callback)
        if not iscoroutinefunction(wrapped):
            wrapped = sync_to_async(wrapped, thread_sensitive=True)
        try:
            response = await wrapped(request, *args, **kwargs)
        except Exception as e:
            response = await sync_to_async(self.process_exception_by_middleware)(e, request)
            if response is None:
                raise
        self.check_response(response, callback)
        if hasattr(response, "render") and callable(response.render):
            for method in self._template_response_middleware:
                response = await method(request, response)
                self.check_response(
                    response,
                    method,
                    name=f"{method.__self__.__class__.__name__}.process_template_response",
                )
            try:
                if iscoroutinefunction(response.render):
                    response = await response.render()
                else:
                    response = await sync_to_async(response.render)()
            except Exception as e:
                response = await sync_to_async(self.process_exception_by_middleware)(e, request)
                if response is None:
                    raise
        if asyncio.iscoroutine(response):
            raise RuntimeError("Response is still a coroutine.")
        return response

    async def _stream(self, response: Any, send: Send) -> None:
        """A streaming (or file) response, as Django's ``send_response`` sends it."""
        from contextlib import aclosing

        await send(_start_message(response))
        async with aclosing(aiter(response)) as content:
            async for part in content:
                for chunk, _ in self.chunk_bytes(part):
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body"})

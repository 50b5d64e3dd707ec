"""Middleware and views that write down what ran, in which order and in which thread:
``tests/django/test_async_handler.py`` serves the same requests through Django's
``ASGIHandler`` and through ``AsyncViewHandler`` and compares the two records.

A request steers the hooks with headers: ``X-Raise: B.request`` makes middleware B's
``process_request`` raise, ``X-Answer: B.request`` makes it answer (short-circuit);
``.view``, ``.response`` and ``.exception`` likewise.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.core.signals import request_finished, request_started
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import path
from django.utils.deprecation import MiddlewareMixin

#: (event, thread name) in the order they happened.
EVENTS: list[tuple[str, str]] = []
#: Set by the ``wait`` view once it waits (the test makes one on its own loop).
WAITING: asyncio.Event | None = None


def note(event: str) -> None:
    EVENTS.append((event, threading.current_thread().name))


def _on_started(**kwargs: Any) -> None:
    note("request_started")


def _on_finished(**kwargs: Any) -> None:
    note("request_finished")


def connect() -> None:
    request_started.connect(_on_started, dispatch_uid="async_hooks.started")
    request_finished.connect(_on_finished, dispatch_uid="async_hooks.finished")


def disconnect() -> None:
    request_started.disconnect(dispatch_uid="async_hooks.started")
    request_finished.disconnect(dispatch_uid="async_hooks.finished")


def _steer(request: HttpRequest, name: str, hook: str) -> HttpResponse | None:
    note(f"{name}.{hook}")
    if request.headers.get("X-Raise") == f"{name}.{hook}":
        raise ValueError(f"{name}.{hook} fails")
    if request.headers.get("X-Answer") == f"{name}.{hook}":
        return HttpResponse(f"answered by {name}.{hook}", status=203)
    return None


class _Hooks(MiddlewareMixin):  # type: ignore[misc]
    name = "?"

    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        return _steer(request, self.name, "request")

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        return _steer(request, self.name, "view")

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        return _steer(request, self.name, "exception")

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        answer = _steer(request, self.name, "response")
        response[f"X-{self.name}"] = "seen"
        return answer or response


class A(_Hooks):
    name = "A"


class B(_Hooks):
    name = "B"


class C(_Hooks):
    name = "C"


class ResponseOnly(MiddlewareMixin):  # type: ignore[misc]
    """Only ``process_response``, as ``XFrameOptionsMiddleware`` has."""

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        note("ResponseOnly.response")
        return response


def native_async(get_response: Callable[..., Any]) -> Callable[..., Any]:
    """An async-only middleware (no hooks): it runs on the loop."""

    async def middleware(request: HttpRequest) -> HttpResponse:
        note("native_async.before")
        response: HttpResponse = await get_response(request)
        note("native_async.after")
        return response

    return middleware


native_async.sync_capable = False  # type: ignore[attr-defined]
native_async.async_capable = True  # type: ignore[attr-defined]


def sync_only(get_response: Callable[..., Any]) -> Callable[..., Any]:
    """A sync-only middleware: Django adapts the chain around it."""

    def middleware(request: HttpRequest) -> HttpResponse:
        note("sync_only.before")
        response: HttpResponse = get_response(request)
        note("sync_only.after")
        return response

    return middleware


async def hello(request: HttpRequest) -> HttpResponse:
    note("view")
    await sync_to_async(note)("view.sync_part")  # an ORM call would run here
    return HttpResponse("hello", headers={"X-View": "async"})


def sync_hello(request: HttpRequest) -> HttpResponse:
    note("sync_view")
    return HttpResponse("sync hello")


async def fails(request: HttpRequest) -> HttpResponse:
    note("view")
    raise ValueError("the view fails")


async def stream(request: HttpRequest) -> StreamingHttpResponse:
    note("view")

    async def parts() -> AsyncIterator[bytes]:
        for i in range(3):
            await asyncio.sleep(0)
            yield b"part%d;" % i

    return StreamingHttpResponse(parts())


async def wait(request: HttpRequest) -> HttpResponse:
    note("view")
    if WAITING is not None:
        WAITING.set()
    try:
        await asyncio.Event().wait()  # until the client leaves
    except asyncio.CancelledError:
        note("view.cancelled")
        raise
    return HttpResponse("never")


urlpatterns = [
    path("hello", hello),
    path("sync", sync_hello),
    path("fails", fails),
    path("stream", stream),
    path("wait", wait),
]

"""``AsyncViewHandler`` against Django's own ``ASGIHandler``: the same requests, through
the same middleware shapes, must run the same hooks in the same order, fire the same
signals, keep each request's sync code in one thread, and answer the same messages.

In-process (both handlers are called directly with a real request); the served path
(a real server, real sockets) is tests/http/test_django_views.py.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.handlers.asgi import ASGIHandler

from telephonist.django.async_handler import AsyncViewHandler, Lanes
from tests.django.testapp import async_hooks

HOOKS = "tests.django.testapp.async_hooks."
SHAPES = {
    # startproject's shape: every middleware a hook middleware (resolving and
    # process_view join the first hop)
    "hooks": ["A", "B", "ResponseOnly", "C"],
    # a native async middleware in the middle: the hook run stops above it
    "async-inside": ["A", "native_async", "B", "C"],
    # a sync-only middleware: Django turns the chain below it sync
    "sync-inside": ["A", "B", "sync_only", "C"],
    # nothing to flatten at the top
    "async-outside": ["native_async", "A", "B"],
}
STEERING = [
    {},
    {"X-Raise": "A.request"},
    {"X-Raise": "B.request"},
    {"X-Answer": "B.request"},
    {"X-Raise": "C.view"},
    {"X-Answer": "B.view"},
    {"X-Raise": "B.response"},
    {"X-Answer": "C.response"},
]


@pytest.fixture
def hooks_project(settings: Any) -> Iterator[None]:
    settings.ROOT_URLCONF = "tests.django.testapp.async_hooks"
    settings.DEBUG = False
    async_hooks.connect()
    try:
        yield
    finally:
        async_hooks.disconnect()


def _scope(path: str, headers: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")]
        + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1234),
        "server": ("127.0.0.1", 80),
    }


def _threads_as_order(events: list[tuple[str, str]]) -> list[tuple[str, int]]:
    """Thread names replaced by the order each first appeared (0 = the loop's)."""
    import threading

    seen = {threading.current_thread().name: 0}
    return [(event, seen.setdefault(name, len(seen))) for event, name in events]


async def _django(path: str, headers: dict[str, str], leave: bool = False) -> Any:
    sent: list[dict[str, Any]] = []
    gone = asyncio.get_running_loop().create_future()
    body_given = False

    async def receive() -> dict[str, Any]:
        nonlocal body_given
        if not body_given:
            body_given = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await gone
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    task = asyncio.create_task(ASGIHandler()(_scope(path, headers), receive, send))
    if leave:
        async_hooks.WAITING = asyncio.Event()
        await _until_waiting()
        gone.set_result(None)
    await asyncio.wait_for(task, 10)
    return sent


async def _ours(path: str, headers: dict[str, str], leave: bool = False) -> Any:
    sent: list[dict[str, Any]] = []
    gone = asyncio.get_running_loop().create_future()

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    handler = AsyncViewHandler(Lanes(2))
    task = asyncio.create_task(handler.serve(_scope(path, headers), io.BytesIO(), send, gone))
    if leave:
        async_hooks.WAITING = asyncio.Event()
        await _until_waiting()
        gone.set_result(None)
    await asyncio.wait_for(task, 10)
    return sent


async def _until_waiting() -> None:
    assert async_hooks.WAITING is not None
    await asyncio.wait_for(async_hooks.WAITING.wait(), 10)


def _both(path: str, headers: dict[str, str], leave: bool = False) -> tuple[Any, Any]:
    """(messages, events) under Django's handler, then under ours."""
    results = []
    for serve in (_django, _ours):
        async_hooks.EVENTS.clear()
        sent = asyncio.run(serve(path, headers, leave))
        results.append((sent, _threads_as_order(async_hooks.EVENTS)))
    return results[0], results[1]


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("steer", STEERING, ids=lambda s: ",".join(s.values()) or "plain")
def test_hooks_signals_threads_and_answer_are_djangos(
    hooks_project: None, settings: Any, shape: str, steer: dict[str, str]
) -> None:
    settings.MIDDLEWARE = [HOOKS + name for name in SHAPES[shape]]
    theirs, ours = _both("/hello", steer)
    assert ours == theirs
    events = [event for event, _ in ours[1]]
    assert events[0] == "request_started"
    assert events[-1] == "request_finished"


@pytest.mark.parametrize("path", ["/fails", "/stream", "/sync", "/missing"])
def test_errors_streams_sync_views_and_404_are_djangos(
    hooks_project: None, settings: Any, path: str
) -> None:
    settings.MIDDLEWARE = [HOOKS + name for name in SHAPES["hooks"]]
    theirs, ours = _both(path, {"X-Answer": "A.exception"} if path == "/fails" else {})
    assert ours == theirs


def test_every_sync_part_of_a_request_runs_in_one_thread(
    hooks_project: None, settings: Any
) -> None:
    settings.MIDDLEWARE = [HOOKS + name for name in SHAPES["hooks"]]
    _, (_, events) = _both("/hello", {})
    threads = {thread for event, thread in events if event != "view"}
    assert threads == {1}  # hooks, signals and the view's sync_to_async: one thread
    assert ("view", 0) in events  # the async view itself: on the loop


def test_the_client_leaving_cancels_the_view_and_finishes_the_request(
    hooks_project: None, settings: Any
) -> None:
    settings.MIDDLEWARE = [HOOKS + name for name in SHAPES["hooks"]]
    theirs, ours = _both("/wait", {}, leave=True)
    assert ours == theirs
    sent, events = ours
    assert sent == []
    assert [e for e, _ in events][-2:] == ["view.cancelled", "request_finished"]


def test_a_failed_send_while_streaming_still_closes_the_response(
    hooks_project: None, settings: Any
) -> None:
    settings.MIDDLEWARE = [HOOKS + name for name in SHAPES["hooks"]]

    async def serve() -> None:
        async def send(message: dict[str, Any]) -> None:
            if message.get("body"):
                raise TimeoutError("the reply channel stayed full")

        gone = asyncio.get_running_loop().create_future()
        handler = AsyncViewHandler(Lanes(1))
        await handler.serve(_scope("/stream", {}), io.BytesIO(), send, gone)

    async_hooks.EVENTS.clear()
    with pytest.raises(TimeoutError):
        asyncio.run(serve())
    assert async_hooks.EVENTS[-1][0] == "request_finished"  # Django's hygiene still ran

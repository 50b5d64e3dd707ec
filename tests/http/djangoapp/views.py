from __future__ import annotations

import asyncio
import hashlib
import json
import os
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from contextvars import ContextVar
from typing import BinaryIO

from asgiref.sync import sync_to_async
from django.contrib.auth import authenticate, login
from django.core.signals import request_finished
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.views.decorators.csrf import csrf_exempt

from telephonist.consumers.message import Message
from telephonist.consumers.signals import consumer_started


def hello(request: HttpRequest) -> HttpResponse:
    return HttpResponse(f"hello from {threading.current_thread().name}")


async def ahello(request: HttpRequest) -> HttpResponse:
    await asyncio.sleep(0)
    return HttpResponse("async hello")


def count(request: HttpRequest) -> HttpResponse:
    request.session["n"] = request.session.get("n", 0) + 1
    return HttpResponse(str(request.session["n"]))


@csrf_exempt
def do_login(request: HttpRequest) -> HttpResponse:
    user = authenticate(
        request, username=request.POST.get("username"), password=request.POST.get("password")
    )
    if user is None:
        return HttpResponse("no", status=401)
    login(request, user)
    return HttpResponse("ok")


def whoami(request: HttpRequest) -> HttpResponse:
    return HttpResponse(request.user.username if request.user.is_authenticated else "anonymous")


def protected(request: HttpRequest) -> HttpResponse:
    return HttpResponse("posted")  # CSRF middleware refuses a POST without a token


def stream(request: HttpRequest) -> StreamingHttpResponse:
    def parts() -> Iterator[bytes]:
        for i in range(5):
            yield f"part{i};".encode()

    return StreamingHttpResponse(parts(), content_type="text/plain")


async def astream(request: HttpRequest) -> StreamingHttpResponse:
    async def parts() -> AsyncIterator[bytes]:
        for i in range(3):
            await asyncio.sleep(0)
            yield f"apart{i};".encode()

    return StreamingHttpResponse(parts(), content_type="text/plain")


def download(request: HttpRequest) -> FileResponse:
    path = os.path.join(tempfile.gettempdir(), "telephonist-download.bin")
    with open(path, "wb") as f:
        f.write(bytes(range(256)) * 1200)  # 300 KB
    return FileResponse(open(path, "rb"), as_attachment=True, filename="data.bin")


@csrf_exempt
def upload(request: HttpRequest) -> JsonResponse:
    files = {
        name: {
            "name": f.name,
            "size": f.size,
            "sha": hashlib.sha256(f.read()).hexdigest(),
            "on_disk": hasattr(f, "temporary_file_path"),
        }
        for name, f in request.FILES.items()
    }
    return JsonResponse({"fields": request.POST.dict(), "files": files})


def meta(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {
            "remote_addr": request.META.get("REMOTE_ADDR"),
            "script_name": request.META.get("SCRIPT_NAME"),
            "path": request.path,
            "path_info": request.path_info,
            "query": request.GET.dict(),
            "secure": request.is_secure(),
            "host": request.get_host(),
            "header": request.headers.get("X-Custom"),
            "spoofed": request.META.get("HTTP_X_AUTH_USER"),
        }
    )


@csrf_exempt
def echo_body(request: HttpRequest) -> HttpResponse:
    return HttpResponse(json.dumps({"length": len(request.body)}))


def _data_file(name: str) -> BinaryIO:
    path = os.path.join(tempfile.gettempdir(), name)
    with open(path, "wb") as f:
        f.write(bytes(range(256)) * 1200)  # 300 KB
    return open(path, "rb")


async def adownload(request: HttpRequest) -> FileResponse:
    data = await sync_to_async(_data_file)("telephonist-adownload.bin")
    return FileResponse(data, as_attachment=True, filename="data.bin")


async def acount(request: HttpRequest) -> HttpResponse:
    """The session (a database row) read and saved through an async view's middleware."""
    n = await request.session.aget("n", 0) + 1
    await request.session.aset("n", n)
    user = await request.auser()
    return HttpResponse(f"{n} {user.username or 'anonymous'}")


# -- a client leaving while a view runs (test_django_disconnect.py) ----------------------
# Each probe request names a key; what happened to it is recorded as marks (threading
# events: set from the loop or a view's thread) that ``/mark`` waits on, so the test
# synchronises on what the views did, never on time.

_marks: dict[str, threading.Event] = {}
_marks_lock = threading.Lock()
_probe: ContextVar[str | None] = ContextVar("probe", default=None)


def _mark_event(key: str, what: str) -> threading.Event:
    with _marks_lock:
        return _marks.setdefault(f"{key}:{what}", threading.Event())


def mark(key: str, what: str) -> None:
    _mark_event(key, what).set()


def _finished(sender: object, **kwargs: object) -> None:
    # request_finished fires in the request's context (its task, or its thread): the
    # probe view set the key there.
    key = _probe.get()
    if key is not None:
        mark(key, "finished")
        _probe.set(None)  # a pool thread's context outlives the request


request_finished.connect(_finished, dispatch_uid="probe-finished")


async def await_mark(request: HttpRequest) -> HttpResponse:
    """``?key=K&what=W``: answers ``yes`` once the mark is set (``no`` after 10 s)."""
    event = _mark_event(request.GET["key"], request.GET["what"])
    seen = await asyncio.to_thread(event.wait, 10.0)
    return HttpResponse("yes" if seen else "no")


def marks(request: HttpRequest) -> JsonResponse:
    prefix = request.GET["key"] + ":"
    with _marks_lock:
        found = sorted(k[len(prefix) :] for k, e in _marks.items() if k.startswith(prefix))
    return JsonResponse({"marks": [m for m in found if _marks[prefix + m].is_set()]})


@csrf_exempt
async def ahang(request: HttpRequest) -> HttpResponse:
    """Waits for something that never comes, until its client leaves."""
    key = request.GET["key"]
    _probe.set(key)
    mark(key, "started")
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        mark(key, "cancelled")
        raise
    return HttpResponse("unreachable")


@csrf_exempt
async def astream_hang(request: HttpRequest) -> StreamingHttpResponse:
    key = request.GET["key"]
    _probe.set(key)

    async def parts() -> AsyncIterator[bytes]:
        try:
            yield b"first;"
            mark(key, "started")
            await asyncio.Event().wait()
            yield b"never;"
        finally:
            mark(key, "closed")

    return StreamingHttpResponse(parts(), content_type="text/plain")


STREAM_LIMIT = 100_000  # chunks: a sync stream nobody stops ends here ("exhausted")


@csrf_exempt
def stream_forever(request: HttpRequest) -> StreamingHttpResponse:
    key = request.GET["key"]
    _probe.set(key)

    def parts() -> Iterator[bytes]:
        try:
            for i in range(STREAM_LIMIT):
                if i == 1:
                    mark(key, "started")
                yield b"x" * 1024
            mark(key, "exhausted")
        finally:
            mark(key, "closed")

    return StreamingHttpResponse(parts(), content_type="text/plain")


@csrf_exempt
def shang(request: HttpRequest) -> HttpResponse:
    """A sync view its client leaves: it cannot be cancelled, so it waits (bounded) for
    the test to let it go, and its answer goes nowhere."""
    key = request.GET["key"]
    _probe.set(key)
    mark(key, "started")
    _mark_event(key, "go").wait(10.0)
    mark(key, "returned")
    return HttpResponse("late")


def go(request: HttpRequest) -> HttpResponse:
    mark(request.GET["key"], "go")
    return HttpResponse("ok")


# Every http.disconnect the worker delivers to a consumer in this process, counted: the
# marks "disconnects:1", "disconnects:2", ... are set as they arrive.
_disconnects = 0


def _consumer_started(sender: object, *, message: Message, **kwargs: object) -> None:
    global _disconnects
    if message.type == "http.disconnect":
        _disconnects += 1
        mark("disconnects", str(_disconnects))


consumer_started.connect(_consumer_started)


def disconnects(request: HttpRequest) -> HttpResponse:
    return HttpResponse(str(_disconnects))

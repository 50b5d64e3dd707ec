from __future__ import annotations

import asyncio
import hashlib
import json
import os
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from typing import BinaryIO

from asgiref.sync import sync_to_async
from django.contrib.auth import authenticate, login
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.views.decorators.csrf import csrf_exempt


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

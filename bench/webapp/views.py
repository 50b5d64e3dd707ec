"""The two views measured: the same small response, from a sync and an async view."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

BODY = b"Hello, World!"


def sync_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(BODY, content_type="text/plain")


async def async_view(request: HttpRequest) -> HttpResponse:
    return HttpResponse(BODY, content_type="text/plain")

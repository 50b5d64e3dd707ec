from collections.abc import Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse


def stamp(get_response: Callable[..., object]) -> Callable[..., object]:
    """Adds ``X-Stamp`` to every response: proves the middleware chain ran, sync or async."""
    if iscoroutinefunction(get_response):

        async def amiddleware(request: HttpRequest) -> HttpResponse:
            response: HttpResponse = await get_response(request)  # type: ignore[misc]
            response["X-Stamp"] = "async"
            return response

        markcoroutinefunction(amiddleware)
        return amiddleware

    def middleware(request: HttpRequest) -> HttpResponse:
        response: HttpResponse = get_response(request)  # type: ignore[assignment]
        response["X-Stamp"] = "sync"
        return response

    return middleware


stamp.sync_capable = True  # type: ignore[attr-defined]
stamp.async_capable = True  # type: ignore[attr-defined]

from django.http import HttpRequest, HttpResponse
from django.urls import path

from telephonist.consumers import room_group
from telephonist.core.layers import get_channel_layer
from telephonist.core.sync import sync_layer


def hello(request: HttpRequest) -> HttpResponse:
    return HttpResponse("hello from a Django view")


def push(request: HttpRequest, room: str) -> HttpResponse:
    """Pushes ``?text=`` to everyone in ``room``: the project's layer from a view."""
    sync_layer(get_channel_layer()).group_send(room_group(room), {"text": request.GET["text"]})
    return HttpResponse(f"pushed to {room}")


def whoami(request: HttpRequest) -> HttpResponse:
    """Who the session cookie logs in (the security tests forge one)."""
    return HttpResponse(request.user.get_username() or "anonymous")


urlpatterns = [path("", hello), path("push/<str:room>/", push), path("whoami/", whoami)]

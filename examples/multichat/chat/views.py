from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from multichat.bridges import ROOM

from .models import ChatMessage

MAX_ROOMS_LISTED = 50


def _rooms(current: str = "") -> list[str]:
    """Rooms with history, and the current one (the sidebar)."""
    names = ChatMessage.objects.values_list("room", flat=True).distinct().order_by("room")
    found = sorted({*list(names[:MAX_ROOMS_LISTED]), *([current] if current else [])})
    listed = [r for r in settings.MULTICHAT_LINKS if r != "*"]
    return sorted({*found, *listed})


def _mailbox(room: str) -> str:
    pattern = settings.MULTICHAT_MAILBOX
    return pattern.replace("{room}", room) if pattern else ""


def index(request: HttpRequest) -> HttpResponse:
    return render(request, "chat/index.html", {"rooms": _rooms(), "mailbox": _mailbox("lobby")})


def room(request: HttpRequest, room: str) -> HttpResponse:
    if room != room.lower() and ROOM.match(room.lower()):
        return HttpResponseRedirect(f"/chat/{room.lower()}/")
    if not ROOM.match(room):
        context = {"rooms": _rooms(), "bad_room": room[:80]}
        return render(request, "chat/index.html", context, status=404)
    context = {
        "room": room,
        "rooms": _rooms(room),
        "mailbox": _mailbox(room),
        "max_name": settings.MULTICHAT_MAX_NAME,
        "max_text": settings.TELEPHONIST["interfaces"]["http"]["websocket"]["chat_max_text"],
    }
    return render(request, "chat/room.html", context)

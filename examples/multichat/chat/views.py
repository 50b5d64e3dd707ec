from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .models import ChatMessage


def index(request: HttpRequest) -> HttpResponse:
    rooms = ChatMessage.objects.values_list("room", flat=True).distinct().order_by("room")
    return render(request, "chat/index.html", {"rooms": list(rooms)[:50]})


def room(request: HttpRequest, room: str) -> HttpResponse:
    return render(request, "chat/room.html", {"room": room})

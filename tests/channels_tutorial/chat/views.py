# chat/views.py
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST


def index(request):
    return render(request, "chat/index.html")


def room(request, room_name):
    return render(request, "chat/room.html", {"room_name": room_name})


# Not in the tutorial: a view that says something in a room.
@csrf_exempt
@require_POST
def announce(request, room_name):
    channel_layer = get_channel_layer()
    async_to_sync(channel_layer.group_send)(
        f"chat_{room_name}", {"type": "chat.message", "message": request.POST["message"]}
    )
    return HttpResponse("sent\n", content_type="text/plain")

# chat/routing.py
from django.urls import re_path

from . import consumers

websocket_urlpatterns = [
    re_path(r"ws/chat/(?P<room_name>\w+)/$", consumers.ChatConsumer.as_asgi()),
    # Not in the tutorial: what a consumer sees of its connection (the tests read it).
    re_path(r"ws/whoami/$", consumers.WhoAmIConsumer.as_asgi()),
]

"""Which consumer answers what: one bridge for every chat protocol.

* a browser's WebSocket on ``/chat/<room>/`` (the page of the same URL opens it);
* every other chat channel: IRC, email, any chat plugin; the bridge's links say which
  IRC channel and mailbox are which room (``multichat/bridges.py``).

``http.request`` is not routed here: pages are Django views (``multichat/urls.py``),
which the ``manage.py`` commands serve for every request nothing else answers
(``telephonist.django.views.DjangoViewConsumer``).
"""

from chat.consumers import RoomBridge

from telephonist.routing import route_class

ROOM = r"(?P<room>[-a-z0-9_]{1,50})"

routes = [
    route_class(RoomBridge, path=rf"^/chat/{ROOM}/$"),
    route_class(RoomBridge),
]

"""Which consumer answers what: one chat consumer for every protocol.

* a browser's WebSocket on ``/chat/<room>/`` (the page of the same URL opens it);
* an IRC channel ``#<room>`` of a configured network;
* a mail to ``room-<room>@localhost``.

``http.request`` is not routed here: pages are Django views (``multichat/urls.py``),
which the ``manage.py`` commands serve for every request nothing else answers
(``telephonist.django.views.DjangoViewConsumer``).
"""

from chat.consumers import MailToRoom, RoomConsumer

from telephonist.routing import route_class

ROOM = r"(?P<room>[-a-zA-Z0-9_]{1,50})"

routes = [
    route_class(RoomConsumer, path=rf"^/chat/{ROOM}/$"),
    route_class(RoomConsumer, room=rf"^#{ROOM}$"),
    route_class(MailToRoom, room=rf"^room-{ROOM}@"),
]

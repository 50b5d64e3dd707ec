from telephonist.routing import route, route_class

from . import consumers

routes = [
    route(["websocket.connect", "websocket.receive"], consumers.echo, path=r"^/echo/$"),
    route(["websocket.connect", "websocket.receive"], consumers.note, path=r"^/note/$"),
    route(["websocket.connect", "websocket.receive"], consumers.count, path=r"^/count/$"),
    route_class(consumers.RoomChat, path=r"^/chat/(?P<room>\w+)/$"),
    route_class(consumers.Room, path=r"^/room/(?P<room>\w+)/$"),
    route("websocket.connect", consumers.connect_user, path=r"^/user/$"),
    route("websocket.receive", consumers.channel_user, path=r"^/user/$"),
    # Last: a ChatConsumer routed without a filter also takes every websocket.connect.
    route_class(consumers.SlackDesk),
]

from telephonist.routing import route, route_class

from . import consumers

routes = [
    route(["websocket.connect", "websocket.receive"], consumers.echo, path=r"^/echo/$"),
    route(["websocket.connect", "websocket.receive"], consumers.note, path=r"^/note/$"),
    route(["websocket.connect", "websocket.receive"], consumers.count, path=r"^/count/$"),
    route_class(consumers.RoomChat, path=r"^/chat/(?P<room>\w+)/$"),
    route_class(consumers.Room, path=r"^/room/(?P<room>\w+)/$"),
    route_class(consumers.SlackDesk),
    route("websocket.connect", consumers.connect_user, path=r"^/user/$"),
    route("websocket.receive", consumers.channel_user, path=r"^/user/$"),
]

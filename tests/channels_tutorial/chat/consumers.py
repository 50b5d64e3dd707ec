# chat/consumers.py
import json

from channels.generic.websocket import AsyncWebsocketConsumer, JsonWebsocketConsumer


class ChatConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        self.room_name = self.scope["url_route"]["kwargs"]["room_name"]
        self.room_group_name = f"chat_{self.room_name}"

        # Join room group
        await self.channel_layer.group_add(self.room_group_name, self.channel_name)

        await self.accept()

    async def disconnect(self, close_code):
        # Leave room group
        await self.channel_layer.group_discard(self.room_group_name, self.channel_name)

    # Receive message from WebSocket
    async def receive(self, text_data):
        text_data_json = json.loads(text_data)
        message = text_data_json["message"]

        # Send message to room group
        await self.channel_layer.group_send(
            self.room_group_name, {"type": "chat.message", "message": message}
        )

    # Receive message from room group
    async def chat_message(self, event):
        message = event["message"]

        # Send message to WebSocket
        await self.send(text_data=json.dumps({"message": message}))


class WhoAmIConsumer(JsonWebsocketConsumer):
    """Not in the tutorial: answers every message with what it knows of its connection
    (a sync consumer, so it also shows the session and user are usable from a thread)."""

    def connect(self):
        self.messages = 0  # kept on the instance for the connection's lifetime
        self.accept()

    def receive_json(self, content):
        self.messages += 1
        user = self.scope["user"]
        self.send_json(
            {
                "messages": self.messages,
                "user": user.get_username() if user.is_authenticated else None,
                "session_key": self.scope["session"].session_key,
                "path": self.scope["path"],
                "client_host": self.scope["client"][0],
                "origin": dict(self.scope["headers"]).get(b"origin", b"").decode(),
                "channel_name": self.channel_name,
            }
        )

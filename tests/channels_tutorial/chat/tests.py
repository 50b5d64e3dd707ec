# chat/tests.py: the consumer tested the Channels way (python manage.py test chat).
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import SimpleTestCase

from chat.consumers import ChatConsumer
from mysite.asgi import application


class ChatConsumerTests(SimpleTestCase):
    async def test_room_members_hear_each_other(self):
        alice = WebsocketCommunicator(
            application, "/ws/chat/lobby/", headers=[(b"origin", b"http://testserver")]
        )
        bob = WebsocketCommunicator(
            application, "/ws/chat/lobby/", headers=[(b"origin", b"http://testserver")]
        )
        for communicator in (alice, bob):
            connected, _ = await communicator.connect(timeout=10)
            self.assertTrue(connected)
        await alice.send_json_to({"message": "hello"})
        self.assertEqual(await alice.receive_json_from(timeout=5), {"message": "hello"})
        self.assertEqual(await bob.receive_json_from(timeout=5), {"message": "hello"})
        await alice.disconnect(timeout=10)
        await bob.disconnect(timeout=10)

    async def test_group_message_from_outside(self):
        communicator = WebsocketCommunicator(ChatConsumer.as_asgi(), "/ws/chat/news/")
        communicator.scope["url_route"] = {"kwargs": {"room_name": "news"}}
        connected, _ = await communicator.connect(timeout=10)
        self.assertTrue(connected)
        await get_channel_layer().group_send(
            "chat_news", {"type": "chat.message", "message": "extra"}
        )
        self.assertEqual(await communicator.receive_json_from(timeout=5), {"message": "extra"})
        await communicator.disconnect(timeout=10)

    async def test_foreign_origin_refused(self):
        communicator = WebsocketCommunicator(
            application, "/ws/chat/lobby/", headers=[(b"origin", b"http://evil.example")]
        )
        connected, _ = await communicator.connect(timeout=10)
        self.assertFalse(connected)

# Not in the tutorial: a management command that says something in a room.
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Say something in a chat room."

    def add_arguments(self, parser):
        parser.add_argument("room_name")
        parser.add_argument("message")

    def handle(self, *args, **options):
        channel_layer = get_channel_layer()
        async_to_sync(channel_layer.group_send)(
            f"chat_{options['room_name']}",
            {"type": "chat.message", "message": options["message"]},
        )
        self.stdout.write("sent")

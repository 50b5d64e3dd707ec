"""``manage.py push_to_room ROOM TEXT``: a command pushing to a chat room, the way
docs/layers.md shows ("The project's layer")."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from telephonist.consumers import room_group
from telephonist.core.layers import get_channel_layer
from telephonist.core.sync import sync_layer


class Command(BaseCommand):
    help = "Send TEXT to everyone in ROOM."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("room")
        parser.add_argument("text")

    def handle(self, *args: Any, room: str, text: str, **options: Any) -> None:
        sync_layer(get_channel_layer()).group_send(room_group(room), {"text": text})
        self.stdout.write(f"pushed to {room}")

"""The room: one ``ChatBridge`` for the browser, IRC and email.

The bridge relays every line of a room between its web pages, its IRC channel and its
mailbox (``MULTICHAT_LINKS``, from ``multichat/bridges.py``), keeps who is there, and
sends a page that joins the room's recent history. What is Django here: that history
lives in the database (``store.DatabaseStore``), so it outlives the process and every
worker shares it.
"""

from __future__ import annotations

from django.conf import settings

from telephonist.consumers import BridgeStore, ChatBridge

from .store import DatabaseStore


class RoomBridge(ChatBridge):
    links = settings.MULTICHAT_LINKS
    history_size = settings.MULTICHAT_HISTORY
    history_on_join = 100
    max_name = settings.MULTICHAT_MAX_NAME
    direct_reply = (
        "Hello! I am multichat's bridge: I relay rooms ({rooms}) and do not read private "
        "messages. Talk in a channel, or open the room on the web."
    )

    def make_store(self) -> BridgeStore:
        return DatabaseStore(self.history_size)

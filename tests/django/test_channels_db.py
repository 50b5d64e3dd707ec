"""``telephonist.django.channels_db``: Channels' per-message database clean-up is
skipped only when it would close nothing, and still closes what Channels closes.

A real Channels consumer (``channels.testing.WebsocketCommunicator``) and real
connections to the test database (a SQLite file), with Django's ``CONN_MAX_AGE = 0``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.testing import WebsocketCommunicator
from django.db import connection

from telephonist.django import channels_db

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def installed() -> Iterator[None]:
    """Our function in Channels' modules for one test, Channels' own again after."""
    import importlib

    modules = [importlib.import_module(name) for name in channels_db._CALLERS]
    saved = [m.aclose_old_connections for m in modules]
    assert channels_db.install()
    try:
        yield
    finally:
        for module, original in zip(modules, saved, strict=True):
            module.aclose_old_connections = original


class Opener(AsyncWebsocketConsumer):  # type: ignore[misc]
    """ "open": leave a database connection open in asgiref's thread (as plain
    ``sync_to_async`` code does); "ask": answer whether that connection is open."""

    async def receive(self, text_data: str | None = None, bytes_data: Any = None) -> None:
        if text_data == "open":
            await sync_to_async(lambda: connection.ensure_connection())()
            await self.send(text_data="opened")
        else:
            is_open = await sync_to_async(lambda: connection.connection is not None)()
            await self.send(text_data="open" if is_open else "closed")


async def _talk(communicator: WebsocketCommunicator, text: str) -> str:
    await communicator.send_to(text_data=text)
    answer: str = await communicator.receive_from(timeout=10)
    return answer


async def test_no_open_connection_means_no_hop(installed: None) -> None:
    await sync_to_async(lambda: connection.close())()
    before = channels_db.counters.copy()
    communicator = WebsocketCommunicator(Opener.as_asgi(), "/ws/")
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    assert await _talk(communicator, "ask") == "closed"
    await communicator.disconnect()
    assert channels_db.counters["skipped"] > before["skipped"]
    assert channels_db.counters["made"] == before["made"]


async def test_an_open_connection_is_closed_as_channels_closes_it(installed: None) -> None:
    """A connection left open in asgiref's thread (plain ``sync_to_async`` code): the hop
    is made, and with Django's default ``CONN_MAX_AGE = 0`` it closes the connection."""
    assert connection.settings_dict["CONN_MAX_AGE"] == 0
    await sync_to_async(lambda: connection.ensure_connection())()
    assert channels_db.open_connections(besides_thread=threading.get_ident()) >= 1
    made = channels_db.counters["made"]
    await channels_db.aclose_old_connections()
    assert channels_db.counters["made"] == made + 1
    assert await sync_to_async(lambda: connection.connection is None)()
    assert channels_db.open_connections(besides_thread=threading.get_ident()) == 0


def test_the_loops_own_connection_is_not_one_the_hop_could_close(installed: None) -> None:
    """Django's connections are per thread and the hop never runs on the loop's: a
    connection opened there before the loop ran (``runserver``'s checks, an in-memory
    SQLite that never closes) does not cost a hop."""
    asyncio.run(sync_to_async(lambda: connection.close())())
    connection.ensure_connection()  # this thread, which is about to run the loop
    try:
        skipped = channels_db.counters["skipped"]
        asyncio.run(channels_db.aclose_old_connections())
        assert channels_db.counters["skipped"] == skipped + 1
        assert connection.connection is not None
    finally:
        connection.close()


def test_install_is_idempotent_and_keeps_channels_hop(installed: None) -> None:
    import channels.consumer
    import channels.db

    assert channels_db.install()
    assert channels.consumer.aclose_old_connections is channels_db.aclose_old_connections
    assert channels_db._channels_hop is channels.db.aclose_old_connections

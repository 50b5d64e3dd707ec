"""``SharedRooms`` of two "servers" on one real layer (in-memory: the claims and lists are
the layer's own): one poster at a time, rooms and people a non-poster saw reach the
poster, and a stopped poster's rooms are served by the other, each message once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from telephonist.core.claims import claims_of
from telephonist.core.memory import InMemoryChannelLayer
from telephonist.interfaces.slack.logs import Throttled
from telephonist.interfaces.slack.mapping import Target
from telephonist.interfaces.slack.names import NameCache
from telephonist.interfaces.slack.rooms import SharedRooms, is_room

TEAM = "T1"
LEASE = 0.6


class Server:
    def __init__(self, layer: InMemoryChannelLayer, name: str) -> None:
        self.got: asyncio.Queue[tuple[Target, dict[str, Any]]] = asyncio.Queue()
        self.names = NameCache(100, 3600)
        self.counters: dict[str, int] = {}

        async def handle(target: Target, message: Any) -> None:
            await self.got.put((target, dict(message)))

        def count(counter: str) -> None:
            self.counters[counter] = self.counters.get(counter, 0) + 1

        throttled = Throttled(logging.getLogger("test.rooms"))
        self.rooms = SharedRooms(layer, claims_of(layer), name, LEASE, 100, handle,
                                 self.names, count, throttled)  # fmt: skip

    @property
    def leads(self) -> bool:
        return TEAM in self.rooms.status()["serving"]


async def until(predicate: Callable[[], Any], within: float = 10.0) -> Any:
    async with asyncio.timeout(within):
        while not (value := predicate()):  # noqa: ASYNC110 (the lease signals nothing)
            await asyncio.sleep(0.01)
    return value


@contextlib.asynccontextmanager
async def two_servers() -> AsyncIterator[tuple[InMemoryChannelLayer, Server, Server]]:
    layer = InMemoryChannelLayer()
    a, b = Server(layer, "a"), Server(layer, "b")
    try:
        yield layer, a, b
    finally:
        for server in (a, b):
            await server.rooms.stop()
            await server.rooms.release()


def test_only_channel_conversations_are_rooms() -> None:
    assert is_room(Target(TEAM, "C1"))
    assert is_room(Target(TEAM, "G1"))
    assert not is_room(Target(TEAM, "C1", thread_ts="1.2"))
    assert not is_room(Target(TEAM, "D1"))
    assert not is_room(Target(TEAM, "C1", interaction=True))
    assert not is_room(Target(TEAM, None))


async def test_one_poster_learns_the_rooms_and_people_the_other_saw() -> None:
    async with two_servers() as (layer, a, b):
        name = a.rooms.room(Target(TEAM, "C1"))
        await until(lambda: a.leads)
        assert b.rooms.room(Target(TEAM, "C1")) == name == f"slack-room.{TEAM}.C1"
        await until(lambda: b.rooms.status()["posters"].get(TEAM) == "a")
        assert not b.leads

        # A room and a person only b has seen: a serves the room, knows the name.
        await b.rooms.seen(TEAM, "U7", "zoe")
        other = b.rooms.room(Target(TEAM, "C2"))
        await until(lambda: a.names.user_id_of(TEAM, "zoe") == "U7")
        for i in range(5):
            await layer.send(other, {"text": f"m{i}"})
        got = [await asyncio.wait_for(a.got.get(), 10) for _ in range(5)]
        assert [m["text"] for _, m in got] == [f"m{i}" for i in range(5)]
        assert {t.channel for t, _ in got} == {"C2"}
        assert b.got.empty()


async def test_a_stopped_poster_hands_its_rooms_over() -> None:
    async with two_servers() as (layer, a, b):
        name = a.rooms.room(Target(TEAM, "C1"))
        await until(lambda: a.leads)
        b.rooms.room(Target(TEAM, "C1"))
        await until(lambda: b.rooms.status()["posters"].get(TEAM) == "a")
        await a.rooms.stop()
        await a.rooms.release()
        for i in range(3):  # while nobody serves: they wait on the layer
            await layer.send(name, {"text": f"late {i}"})
        got = [await asyncio.wait_for(b.got.get(), 10) for _ in range(3)]
        assert [m["text"] for _, m in got] == ["late 0", "late 1", "late 2"]
        assert b.leads
        assert a.got.empty()


@pytest.mark.parametrize("people", [[["U1"]], [["U 1", "x"]], "nope", [[1, "x"]]])
async def test_a_malformed_notice_teaches_nothing(people: Any) -> None:
    async with two_servers() as (layer, a, _):
        a.rooms.room(Target(TEAM, "C1"))
        await until(lambda: a.leads)
        await layer.send(f"slack-rooms.{TEAM}", {"type": "slack.rooms", "channels": ["C 2", 5],
                                                 "people": people})  # fmt: skip
        await layer.send(f"slack-rooms.{TEAM}", {"type": "slack.rooms", "channels": ["C3"]})
        await until(lambda: a.rooms.status()["rooms"] == 2)
        assert len(a.names) == 0

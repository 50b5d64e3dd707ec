"""Which rooms a bridge links: endpoints by configuration, and the groups they use.

Theory of operation
-------------------
A bridge's configuration maps a room name to the places that room exists on other
protocols::

    {"lobby": ["irc:#lobby", "email:room-lobby@example.org", "slack:#general"]}

Each entry is an :class:`Endpoint`: a protocol (``web``, ``irc``, ``email``, ``slack``,
``linechat``, or any registered chat protocol) and the room as that protocol names it.
A string is ``"<protocol>:<room>"`` (a Slack channel by name, ``slack:#general`` or
``slack:general``, or by id, ``slack:C0123``); a mapping can add a ``network`` (an IRC
network's ``name``, a Slack team id) and, for a mailbox, ``notify`` (addresses that get each message
of the room as a mail). The web room of the same name is always an endpoint (index 0):
``/chat/lobby/`` is room ``lobby``. With ``open_rooms`` every web room is a room.

The room ``"*"`` holds *patterns* every room has: ``{"*": ["email:room-{room}@x.org",
"irc:#{room}"]}`` gives room ``kitchen`` the mailbox ``room-kitchen@x.org`` and IRC
channel ``#kitchen``, and a mail to ``room-garden@x.org`` opens room ``garden`` (room
names taken from patterns are 1-50 letters, digits, ``-`` or ``_``). A room
listed by name gets the patterns after its own endpoints.

Rooms compare without case (``#Lobby`` is ``#lobby``, as IRC and mail do). Each
endpoint of each room has a group of its own (:meth:`Links.group`), which the
connections of that endpoint join: a browser, an IRC channel's conversation, a Slack
channel's. A message is relayed by sending it to the groups of the *other* endpoints,
so it never goes back where it came from; connection protocols (web, linechat), where
each person is a connection, also get it in their own endpoint, so everyone else in the
web room sees it (and the sender sees it confirmed).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..chat import ChatEvent
from .chat_registry import room_group

__all__ = ["CONNECTION_PROTOCOLS", "Endpoint", "Links", "LinksError"]

_ALIASES = {"web": "websocket", "ws": "websocket", "mail": "email"}
#: Protocols where each person is a connection of their own (they see the room's lines
#: through the bridge, their own included). Elsewhere the protocol shows the room.
CONNECTION_PROTOCOLS = frozenset({"websocket", "linechat"})


class LinksError(ValueError):
    """A bridge configuration that cannot be used; raised when the bridge is set up."""


@dataclass(frozen=True)
class Endpoint:
    """One room on one protocol."""

    protocol: str
    room: str
    network: str | None = None
    notify: tuple[str, ...] = field(default=())

    @classmethod
    def parse(cls, spec: str | Mapping[str, Any]) -> Endpoint:
        if isinstance(spec, str):
            protocol, sep, room = spec.partition(":")
            if not sep or not room:
                raise LinksError(f"{spec!r} is not '<protocol>:<room>'")
            spec = {"protocol": protocol, "room": room}
        unknown = set(spec) - {"protocol", "room", "network", "notify"}
        if unknown:
            raise LinksError(f"unknown endpoint keys {sorted(unknown)} in {dict(spec)!r}")
        protocol, room = str(spec.get("protocol", "")), str(spec.get("room", ""))
        if not protocol or not room:
            raise LinksError(f"an endpoint needs a protocol and a room: {dict(spec)!r}")
        notify = spec.get("notify") or ()
        if isinstance(notify, str):
            notify = (notify,)
        network = spec.get("network")
        protocol = _ALIASES.get(protocol.lower(), protocol.lower())
        if protocol == "slack":
            room = room.lstrip("#")  # Slack's events name a channel without its "#"
        return cls(
            protocol,
            room,
            str(network) if network else None,
            tuple(str(a) for a in notify),
        )

    @property
    def is_connection(self) -> bool:
        return self.protocol in CONNECTION_PROTOCOLS

    def _applies(self, event: ChatEvent, network: str | None) -> bool:
        if event["protocol"] != self.protocol:
            return False
        return self.network is None or network == self.network

    def matches(self, event: ChatEvent, network: str | None) -> bool:
        if not self._applies(event, network):
            return False
        wanted = self.room.casefold()
        return wanted in (event["room"].casefold(), event["room_id"].casefold())

    def for_room(self, room: str) -> Endpoint:
        """This pattern endpoint for ``room`` (``#{room}`` -> ``#kitchen``)."""
        return Endpoint(self.protocol, self.room.replace("{room}", room), self.network,
                        self.notify)  # fmt: skip

    def room_of(self, event: ChatEvent, network: str | None) -> str | None:
        """The room this pattern endpoint gives ``event``'s room, if it fits."""
        if not self._applies(event, network):
            return None
        head, _, tail = self.room.casefold().partition("{room}")
        pattern = re.escape(head) + r"([-\w]{1,50})" + re.escape(tail)
        for name in (event["room"], event["room_id"]):
            match = re.fullmatch(pattern, name.casefold())
            if match:
                return match.group(1)
        return None


class Links:
    """A bridge's rooms and their endpoints (index 0 of each room is its web room)."""

    def __init__(
        self, config: Mapping[str, Sequence[str | Mapping[str, Any]]], open_rooms: bool = True
    ) -> None:
        self.open_rooms = open_rooms
        self.rooms: dict[str, list[Endpoint]] = {}
        self.patterns: list[Endpoint] = []
        for room, specs in config.items():
            if isinstance(specs, str | bytes) or not isinstance(specs, Iterable):
                raise LinksError(f"room {room!r}: endpoints must be a list")
            endpoints = [Endpoint.parse(s) for s in specs]
            if room == "*":
                bad = [e.room for e in endpoints if e.room.count("{room}") != 1]
                if bad:
                    raise LinksError(f"patterns must hold '{{room}}' once: {bad}")
                self.patterns = endpoints
            else:
                self.rooms[room] = [Endpoint("websocket", room), *endpoints]
        self._by_key = {room.casefold(): room for room in self.rooms}

    def endpoints(self, room: str) -> list[Endpoint]:
        listed = self.rooms.get(room) or [Endpoint("websocket", room)]
        return listed + [pattern.for_room(room) for pattern in self.patterns]

    def find(self, event: ChatEvent, network: str | None) -> tuple[str, int] | None:
        """``(room, endpoint index)`` of the room ``event`` happened in, if bridged."""
        if event["is_direct"]:
            return None
        for room, endpoints in self.rooms.items():
            for index, endpoint in enumerate(endpoints):
                if endpoint.matches(event, network):
                    return room, index
        for offset, pattern in enumerate(self.patterns):
            name = pattern.room_of(event, network)
            if name is not None and (self.open_rooms or name.casefold() in self._by_key):
                room = self._by_key.get(name.casefold(), name)
                return room, len(self.rooms.get(room) or [None]) + offset
        if event["protocol"] == "websocket" and event["room"]:
            name = self._by_key.get(event["room"].casefold())
            if name is not None:
                return name, 0
            if self.open_rooms:
                return event["room"], 0
        return None

    @staticmethod
    def group(room: str, index: int) -> str:
        """The group of endpoint ``index`` of ``room``."""
        return room_group(f"{room}.{index}", prefix="bridge.")

    def describe(self) -> str:
        """The linked rooms, for people: ``#lobby (irc), room-lobby@x (mail)``."""
        parts = [f"{e.room} ({e.protocol})" for eps in self.rooms.values() for e in eps[1:]]
        parts += [f"{e.room} ({e.protocol})" for e in self.patterns]
        return ", ".join(parts) or "web rooms only"

"""What a bridge remembers per room: bounded history, members, topic.

Theory of operation
-------------------
A bridged message is one :class:`Entry` in its room's history, whichever endpoint it
came from: its ``message_id`` is the bridge's own (the web's id for a web message, the
origin's id with the protocol in front otherwise), and ``native`` maps each endpoint
to the id the message has *there* (the origin's own id; the web's, which is the
bridge's). Replies, edits, deletes and reactions name their target in the origin's ids;
:meth:`BridgeStore.find` turns that into the entry, and the entry into the id each other
endpoint knows, or, when it knows none, into readable text (``bridge.py``).

History is bounded per room (``history_size``, oldest dropped) and so is the number of
rooms (least recently used dropped), so a bridge open to any web room cannot grow
without bound. Members are keyed by endpoint and by a key the protocol makes unique (a
web connection's reply channel, an IRC nick), with at most ``MAX_MEMBERS`` per room.

:class:`MemoryStore` keeps all of it in the worker process, behind a lock (sync chat
consumers run in worker threads). That fits one worker (``telephonist run``, Django's
``runserver``). With several workers, give the bridge a store they share; the
``multichat`` example keeps history in its database. Entries are plain dicts of
msgpack/JSON-safe values so a store can put them anywhere.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from typing import Any, Protocol, TypedDict

__all__ = ["MAX_MEMBERS", "BridgeStore", "Entry", "Member", "MemoryStore"]

MAX_MEMBERS = 5000
MAX_ROOMS = 1000


class Entry(TypedDict):
    """One message of a room's history."""

    message_id: str
    kind: str  # message, action or notice
    text: str
    user: str
    user_id: str
    protocol: str
    timestamp: float
    reply_to: str | None  # the bridge's id of the message this one answers
    thread_id: str | None
    native: dict[str, str]  # endpoint index (as a str) -> the message's id there
    reactions: dict[str, list[str]]  # emoji -> who
    edited: bool
    deleted: bool


class Member(TypedDict):
    user: str
    protocol: str
    endpoint: int


class BridgeStore(Protocol):
    def add(self, room: str, entry: Entry) -> None: ...
    def update(self, room: str, entry: Entry) -> None: ...
    def find(self, room: str, endpoint: int, native_id: str) -> Entry | None: ...
    def recent(self, room: str, limit: int) -> list[Entry]: ...
    def set_member(self, room: str, key: str, member: Member | None) -> bool: ...
    def replace_members(self, room: str, endpoint: int, members: dict[str, Member]) -> None: ...
    def members(self, room: str) -> list[Member]: ...
    def set_topic(self, room: str, topic: str) -> None: ...
    def topic(self, room: str) -> str: ...


class _Room:
    def __init__(self, size: int) -> None:
        self.history: deque[Entry] = deque(maxlen=size)
        self.members: dict[str, Member] = {}
        self.topic = ""


class MemoryStore:
    """The in-process store (see the module docstring)."""

    def __init__(self, history_size: int = 100, max_rooms: int = MAX_ROOMS) -> None:
        self.history_size = history_size
        self.max_rooms = max_rooms
        self._rooms: OrderedDict[str, _Room] = OrderedDict()
        self._lock = threading.Lock()

    def _room(self, room: str) -> _Room:
        found = self._rooms.get(room)
        if found is None:
            found = self._rooms[room] = _Room(self.history_size)
            while len(self._rooms) > self.max_rooms:
                self._rooms.popitem(last=False)
        else:
            self._rooms.move_to_end(room)
        return found

    def add(self, room: str, entry: Entry) -> None:
        with self._lock:
            self._room(room).history.append(entry)

    def update(self, room: str, entry: Entry) -> None:
        with self._lock:
            history = self._room(room).history
            for index, old in enumerate(history):
                if old["message_id"] == entry["message_id"]:
                    history[index] = entry

    def find(self, room: str, endpoint: int, native_id: str) -> Entry | None:
        key = str(endpoint)
        with self._lock:
            for entry in reversed(self._room(room).history):
                if entry["native"].get(key) == native_id or entry["message_id"] == native_id:
                    return _copy(entry)
        return None

    def recent(self, room: str, limit: int) -> list[Entry]:
        with self._lock:
            history = list(self._room(room).history)
        return [_copy(e) for e in history[-limit:]] if limit > 0 else []

    def set_member(self, room: str, key: str, member: Member | None) -> bool:
        """Add, change (``None``: remove) a member; whether anything changed."""
        with self._lock:
            members = self._room(room).members
            if member is None:
                return members.pop(key, None) is not None
            if members.get(key) == member or (key not in members and len(members) >= MAX_MEMBERS):
                return False
            members[key] = member
            return True

    def replace_members(self, room: str, endpoint: int, members: dict[str, Member]) -> None:
        with self._lock:
            current = self._room(room).members
            for key in [k for k, m in current.items() if m["endpoint"] == endpoint]:
                del current[key]
            for key, member in list(members.items())[: max(0, MAX_MEMBERS - len(current))]:
                current[key] = member

    def members(self, room: str) -> list[Member]:
        with self._lock:
            found = list(self._room(room).members.values())
        return sorted(found, key=lambda m: (m["user"].casefold(), m["protocol"]))

    def set_topic(self, room: str, topic: str) -> None:
        with self._lock:
            self._room(room).topic = topic

    def topic(self, room: str) -> str:
        with self._lock:
            return self._room(room).topic


def _copy(entry: Entry) -> Entry:
    copy: dict[str, Any] = dict(entry)
    copy["native"] = dict(entry["native"])
    copy["reactions"] = {k: list(v) for k, v in entry["reactions"].items()}
    return copy  # type: ignore[return-value]

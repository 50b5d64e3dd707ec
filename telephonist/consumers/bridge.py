"""``ChatBridge``: link rooms across protocols by configuration.

Theory of operation
-------------------
A bridge is a ``ChatConsumer`` routed on every chat channel. Its ``links``
(``bridge_links.py``) say which rooms exist where: the web room ``lobby``, IRC channel
``#lobby``, a mailbox, a Slack channel. For each event it finds the room and the
endpoint the event came from, then:

* **messages, actions, notices** become one history entry (``bridge_store.py``) and are
  sent once to every *other* endpoint's group, attributed (``user``, ``protocol``: each
  interface renders ``[irc] <ann>`` its own way, on every line) and cut at
  ``max_text``. A reply to a message is threaded where the target endpoint knows the
  parent's id, else the parent is quoted (``(↪ bob: “hi”) sure``). A mailbox endpoint
  with ``notify`` addresses gets each message as a mail (``email.send``);
* **edits, deletes, reactions** change the entry and are passed on natively where the
  endpoint knows the message's id (the web always does), else as their readable
  ``fallback`` (``* ann reacted 👍 to bob: “hi”``): interfaces that cannot do a kind
  send the fallback, so nothing a person did is silently lost;
* **joins and leaves** keep the member list (web connections, IRC nicks: the bot's own
  join brings the channel's members), which web pages get as ``chat.state`` frames; the
  bot's own join also puts the conversation in its endpoint's group, a web page's join
  sends it the room's recent history (a JSON page gets it in one ``state`` frame, so a
  re-join replaces rather than repeats it);
* a **private message** to the bot is answered, privately, with ``direct_reply``;
  nothing of it is relayed. Our own echoed messages are never seen (``is_self``), so
  nothing loops.

A web page names itself with the ``name`` query parameter of its WebSocket URL
(``/chat/lobby/?name=ann``); the bridge remembers it for the connection in the worker
that serves it (connection affinity keeps every event of a connection on that worker).
Subclasses change ``display_name``, ``on_direct`` or the class settings below.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import parse_qs

from ..chat import (
    WEBSOCKET_SUBPROTOCOL,
    ChatEvent,
    safe_name,
    safe_text,
)
from .bridge_links import Endpoint, Links
from .bridge_relay import apply_change, change_reply, mail_message, reply_for, state_message
from .bridge_store import BridgeStore, Entry, Member, MemoryStore
from .chat import ChatConsumer

__all__ = ["ChatBridge"]

log = logging.getLogger("telephonist.consumers.bridge")

_TEXT_KINDS = ("message", "action", "notice")
_MAX_NAMES = 100_000
_SPEAKERS_ARE_MEMBERS = frozenset({"slack"})


class ChatBridge(ChatConsumer):
    """Relays every room of ``links`` between its endpoints (see the module docstring)."""

    #: Room name -> its endpoints besides the web room of that name.
    links: ClassVar[Mapping[str, Sequence[str | Mapping[str, Any]]]] = {}
    #: Whether any web room is a room (linked to nothing unless configured).
    open_rooms: ClassVar[bool] = True
    #: Messages remembered per room, and how many a joining page is sent.
    history_size: ClassVar[int] = 200
    history_on_join: ClassVar[int] = 100
    #: Longest text relayed (characters); longer is cut, ending in "…".
    max_text: ClassVar[int] = 4000
    #: Longest name a web page may give itself (``?name=``); longer is cut.
    max_name: ClassVar[int] = 30
    #: Answer to a private message to the bot (``{rooms}``: the linked rooms).
    direct_reply: ClassVar[str] = (
        "I am a bridge and only relay rooms ({rooms}); private messages are not "
        "relayed. Please talk in the room."
    )
    track_rooms = False  # the bridge keeps its own groups, one per endpoint

    _setup: ClassVar[dict[type, tuple[Links, BridgeStore]]] = {}
    _setup_lock: ClassVar[threading.Lock] = threading.Lock()
    _names: ClassVar[OrderedDict[str, str]] = OrderedDict()  # web connection -> its name

    # -- configuration ------------------------------------------------------------------

    def make_store(self) -> BridgeStore:
        """The store of this bridge class (made once); the default keeps it in memory."""
        return MemoryStore(self.history_size)

    def _configured(self) -> tuple[Links, BridgeStore]:
        cls = type(self)
        with cls._setup_lock:
            found = cls._setup.get(cls)
            if found is None:
                found = cls._setup[cls] = (Links(cls.links, cls.open_rooms), self.make_store())
            return found

    @property
    def rooms(self) -> Links:
        return self._configured()[0]

    @property
    def store(self) -> BridgeStore:
        return self._configured()[1]

    def display_name(self, event: ChatEvent) -> str:
        """The name ``event``'s author is shown with."""
        if event["protocol"] != "websocket" or self.message.reply_channel is None:
            return event["user"]
        return self._names.get(self.message.reply_channel.name) or "guest"

    # -- events -------------------------------------------------------------------------

    def on_event(self, event: ChatEvent) -> None:
        if self.message.channel.name.startswith("websocket.") and "room" not in self.kwargs:
            return  # not a room (refused at the join)
        network = self.message.get("network") or self.message.get("team")
        found = self.rooms.find(event, network if isinstance(network, str) else None)
        if found is None:
            if event["is_direct"] and event["kind"] in _TEXT_KINDS:
                self.on_direct(event)
            return
        room, index = found
        kind = event["kind"]
        if kind == "join":
            self._joined(room, index, event)
        elif kind == "leave":
            self._left(room, index, event)
        else:
            self._refresh(room, index)
            if kind in _TEXT_KINDS:
                self._message(room, index, event)
            elif kind == "topic":
                self.store.set_topic(room, event["text"])
                change = {"topic": event["text"], "user": event["user"]}
                self._state(room, change | {"protocol": event["protocol"]})
            else:
                self._change(room, index, event)

    def accept_join(self, user: str, room: str) -> bool:
        """A WebSocket joins only a room its route named (``(?P<room>...)`` in the path):
        a socket on any other path is refused (403), not made a room."""
        return not self.message.channel.name.startswith("websocket.") or "room" in self.kwargs

    def on_direct(self, event: ChatEvent) -> None:
        """A private message to the bot: answered privately, never relayed."""
        log.info(
            "bridge: answered a private message from %s (%s)", event["user"], event["protocol"]
        )
        self.reply(self.direct_reply.format(rooms=self.rooms.describe()), private=True)

    def _endpoint(self, room: str, index: int) -> Endpoint:
        return self.rooms.endpoints(room)[index]

    def _refresh(self, room: str, index: int) -> None:
        # Speaking refreshes the group membership of the endpoint's connection; a mail's
        # reply channel never joins (nobody wants the room's chatter as reply mails), nor
        # does a thread's (a Slack thread has a reply channel of its own: the room's
        # lines go to the channel, not into whichever thread spoke last).
        endpoint = self._endpoint(room, index)
        threaded = self.event["thread_id"] is not None and not endpoint.is_connection
        if endpoint.protocol != "email" and self.message.reply_channel and not threaded:
            self.group_add(self.rooms.group(room, index))

    # -- membership ---------------------------------------------------------------------

    def _member_key(self, index: int, event: ChatEvent) -> str:
        channel = self.message.reply_channel
        if self._endpoint_is_connection(event) and channel is not None:
            return channel.name
        return f"{index}:{event['user_id']}"

    @staticmethod
    def _endpoint_is_connection(event: ChatEvent) -> bool:
        return event["protocol"] in ("websocket", "linechat")

    def _joined(self, room: str, index: int, event: ChatEvent) -> None:
        channel = self.message.reply_channel
        own = self._about_this_connection()
        if event["protocol"] == "websocket" and channel is not None:
            query = bytes(self.message.get("query_string") or b"").decode("latin-1")
            name = safe_name(parse_qs(query).get("name", [""])[0], self.max_name) or "guest"
            with self._setup_lock:
                self._names[channel.name] = name
                while len(self._names) > _MAX_NAMES:  # leaves lost with a worker: bounded
                    self._names.popitem(last=False)
            event = {**event, "user": name}
        if own and channel is not None:
            self.group_add(self.rooms.group(room, index))
        if own and not self._endpoint_is_connection(event):
            # The bot joined a channel: its members are the room's members there.
            nicks = self.message.get("members") or []
            me = event["user"].casefold()
            members = {
                f"{index}:{n}": Member(user=n, protocol=event["protocol"], endpoint=index)
                for n in nicks
                if isinstance(n, str) and n.casefold() != me
            }
            self.store.replace_members(room, index, members)
            if isinstance(self.message.get("topic"), str) and self.message["topic"]:
                self.store.set_topic(room, self.message["topic"])
            self._state(room, None)
            return
        member = Member(user=event["user"], protocol=event["protocol"], endpoint=index)
        self.store.set_member(room, self._member_key(index, event), member)
        if own and event["protocol"] == "websocket":
            self._welcome(room)
        self._state(room, {"user": member["user"], "protocol": member["protocol"], "joined": True})

    def _left(self, room: str, index: int, event: ChatEvent) -> None:
        channel = self.message.reply_channel
        own = self._about_this_connection()
        if own and channel is not None:
            self.group_discard(self.rooms.group(room, index))
        if own and not self._endpoint_is_connection(event):
            self.store.replace_members(room, index, {})
            self._state(room, None)
            return
        user = self.display_name(event)
        self.store.set_member(room, self._member_key(index, event), None)
        if channel is not None and event["protocol"] == "websocket":
            with self._setup_lock:
                self._names.pop(channel.name, None)
        self._state(room, {"user": user, "protocol": event["protocol"], "joined": False})

    def _welcome(self, room: str) -> None:
        """A web page joined: the room's recent history, members and topic, to it alone."""
        history = self.store.recent(room, self.history_on_join)
        if WEBSOCKET_SUBPROTOCOL in (self.message.get("subprotocols") or []):
            self.reply_channel.send(self._state_message(room, None, history))
            return
        for entry in history:  # a plain page: the lines, attributed
            if not entry["deleted"]:
                self.reply_channel.send(self._reply_for(entry, 0, None))

    def _state_message(
        self, room: str, change: dict[str, Any] | None, history: list[Entry] | None = None
    ) -> dict[str, Any]:
        members, topic = self.store.members(room), self.store.topic(room)
        return state_message(room, self.rooms.endpoints(room), members, topic, change, history)

    def _state(self, room: str, change: dict[str, Any] | None) -> None:
        """Tell the web pages of ``room`` its members (and what changed)."""
        message = self._state_message(room, change)
        for index, endpoint in enumerate(self.rooms.endpoints(room)):
            if endpoint.protocol == "websocket":
                self.group_send(self.rooms.group(room, index), message)

    # -- messages -----------------------------------------------------------------------

    def _message(self, room: str, index: int, event: ChatEvent) -> None:
        origin = self._endpoint(room, index)
        if origin.is_connection or origin.protocol in _SPEAKERS_ARE_MEMBERS:
            # A connection's member entry follows its name (a linechat /nick, say); in a
            # Slack channel whoever speaks is there (its members are not listed at the
            # bot's join, unlike an IRC channel's).
            user = self.display_name(event)
            member = Member(user=user, protocol=event["protocol"], endpoint=index)
            if self.store.set_member(room, self._member_key(index, event), member):
                self._state(room, None)
        native = event["message_id"]
        if origin.protocol == "websocket" and native:
            message_id = native
        elif native:
            message_id = f"{event['protocol']}:{native}"
        else:
            message_id = uuid.uuid4().hex[:16]
        parent = None
        if event["reply_to"]:
            parent = self.store.find(room, index, event["reply_to"])
        entry = Entry(
            message_id=message_id,
            kind=event["kind"],
            text=safe_text(event["text"], self.max_text),
            user=self.display_name(event),
            user_id=event["user_id"],
            protocol=event["protocol"],
            timestamp=event["timestamp"],
            reply_to=parent["message_id"] if parent else None,
            thread_id=parent["thread_id"] or parent["message_id"] if parent else None,
            native={str(index): native} if native else {},
            reactions={},
            edited=False,
            deleted=False,
        )
        for j, endpoint in enumerate(self.rooms.endpoints(room)):
            if endpoint.protocol == "websocket":
                entry["native"][str(j)] = message_id
        self.store.add(room, entry)
        self._relay(room, index, entry, parent)

    def _reply_for(self, entry: Entry, index: int, parent: Entry | None) -> dict[str, Any]:
        return reply_for(entry, index, parent)

    def _relay(self, room: str, origin: int, entry: Entry, parent: Entry | None) -> None:
        for index, endpoint in enumerate(self.rooms.endpoints(room)):
            if index == origin and not endpoint.is_connection:
                continue  # the protocol showed it there already: no echo
            reply = self._reply_for(entry, index, parent)
            if endpoint.protocol == "email":
                self._mail(room, endpoint, reply)
            else:
                self.group_send(self.rooms.group(room, index), reply)

    def _mail(self, room: str, endpoint: Endpoint, reply: dict[str, Any]) -> None:
        if endpoint.notify:
            self.send_to("email.send", mail_message(room, endpoint, reply))

    # -- edits, deletes, reactions ------------------------------------------------------

    def _change(self, room: str, index: int, event: ChatEvent) -> None:
        kind = event["kind"]
        target_id = event["reply_to"] if kind == "reaction" else event["message_id"]
        target = self.store.find(room, index, target_id) if target_id else None
        user = self.display_name(event)
        emoji = event.get("emoji", "")
        removed = bool(event.get("removed"))
        if target is not None and kind != "reaction" and target["user_id"] != event["user_id"]:
            log.warning("bridge: %s may not %s %s's message", user, kind, target["user"])
            return  # only the author edits or deletes a message
        fallback = apply_change(target, kind, user, event["text"], emoji, removed)
        if target is not None:
            self.store.update(room, target)
        for j, endpoint in enumerate(self.rooms.endpoints(room)):
            if j == index and not endpoint.is_connection:
                continue
            there = target["native"].get(str(j)) if target else None
            reply = change_reply(event, user, fallback, target, there)
            if endpoint.protocol == "email":
                self._mail(room, endpoint, {**reply, "kind": "action", "text": fallback})
            else:
                self.group_send(self.rooms.group(room, j), reply)

"""``SharedRooms``: one reply channel per Slack channel for every interface server.

Theory of operation
-------------------
With several interface servers on one layer, each used to give a Slack channel's
events a reply channel of its own (``srv.<id>!slack.<token>``). A consumer that adds
the event's reply channel to a group (``ChatBridge``, or ``track_rooms``) then got one
member per server that ever saw the channel, and a ``group_send`` reached every one:
each server posted the line. So a Slack channel's conversation (not a thread, not a
direct message: see below) gets a name that does not depend on the server,
``slack-room.<team>.<channel>``: a normal channel of the layer, the same whichever
server took the event, so a group holds it once and every line sent to it is on one
list, taken by one receiver.

Who receives: the workspace's *poster*, the one server holding its lease
(``lease.py``). Only it receives on the workspace's room channels, so one outbox
(``outbox.py``) makes every post of a channel, in the order it was sent, paced one per
second per channel with 429s honoured, as in one process. When the poster dies its
lease lapses (``poster_lease`` seconds) and another server takes it and starts
receiving; lines sent meanwhile wait on the channels' lists (within the layer's
``expiry`` and capacity), so the room is never left silent. A poster that stops (or
loses the lease) stops receiving: what its blocking pops had taken but not handed over
is pushed back, in order, by the layer.

The poster receives on the rooms it knows. A server that sees a room new to it (an
event, or its start-up announcement, ``announce.py``) tells the poster on
``slack-rooms.<team>`` (a normal channel only the poster reads); every server tells a
new poster all the rooms it knows when it sees the lease change hands. Rooms are kept
least recently used first, at most ``max_conversations`` per server; the poster holds
one blocking receive per room it serves. The same notices carry the people a server has
seen speak (id and display name), before their event goes on the layer: a ``private``
reply names its addressee by display name (``ChatConsumer.reply`` fills ``to`` from the
event's ``user``), and the poster, which may never have seen that person, finds the id
in its name cache.

Threads and direct messages keep their server's own reply channels: nothing joins them
to room groups (``ChatBridge`` posts a room's lines in the channel), a direct answer
goes back through the server that took the event, and so each needs no blocking
receive on the poster.

On the in-memory layer (all-in-one: one server) none of this is used
(``shared_rooms``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ...core.base import BaseChannelLayer
from ...core.claims import Claims
from ...core.codec import Content
from ...core.exceptions import ChannelFull, LayerUnavailable
from .lease import Lease
from .logs import Throttled
from .mapping import Target
from .names import NameCache

__all__ = ["SharedRooms", "is_room"]

NOTICE = "slack.rooms"  # type of the message that tells the poster about rooms
_BATCH = 16  # messages taken per receive
_NOTICE_CHUNK = 200  # room ids per notice
_TELL_WITHIN = 0.5  # seconds an event waits to tell the poster about its author, at most

#: Carries out one message of a room's reply channel.
Handle = Callable[[Target, Content], Awaitable[None]]


def is_room(target: Target) -> bool:
    """Whether ``target`` is a channel's own conversation (not a thread, not a DM)."""
    channel = target.channel
    return (
        not target.interaction
        and target.thread_ts is None
        and bool(channel)
        and not (channel or "").startswith("D")
    )


def _valid_id(value: str) -> bool:
    """A Slack id as it may appear in a layer channel name (notices are untrusted)."""
    return 0 < len(value) <= 40 and value.isascii() and value.isalnum()


def room_channel(team: str, channel: str) -> str:
    return f"slack-room.{team}.{channel}"


def notice_channel(team: str) -> str:
    return f"slack-rooms.{team}"


@dataclass(eq=False)
class _Runner:
    task: asyncio.Task[None] | None = None
    idle: bool = False  # parked on the layer: safe to cancel
    stopping: bool = False


@dataclass(eq=False)
class _Team:
    lease: Lease
    task: asyncio.Task[None] | None = None
    runners: dict[str, _Runner] = field(default_factory=dict)  # layer channel -> runner


class SharedRooms:
    def __init__(
        self, layer: BaseChannelLayer, claims: Claims, me: str, lease_ttl: float,
        max_rooms: int, handle: Handle, names: NameCache, count: Callable[[str], None],
        log: Throttled,
    ) -> None:  # fmt: skip
        self._layer = layer
        self._claims = claims
        self.me = me
        self._ttl = lease_ttl
        self._max_rooms = max_rooms
        self._handle = handle
        self._names = names
        self._people: OrderedDict[tuple[str, str], str] = OrderedDict()  # (team, id) -> name
        self._count = count
        self._log = log
        self._rooms: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._teams: dict[str, _Team] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopped = False

    @staticmethod
    def owns(channel: str) -> bool:
        return channel.startswith("slack-room.")

    def status(self) -> dict[str, Any]:
        return {
            "rooms": len(self._rooms),
            "posters": {team: t.lease.holder for team, t in self._teams.items()},
            "serving": sorted(team for team, t in self._teams.items() if t.lease.held),
        }

    # -- rooms ------------------------------------------------------------------------

    def room(self, target: Target) -> str:
        """The shared reply channel of ``target``'s channel (``is_room``)."""
        team, channel = target.team, target.channel or ""
        key = (team, channel)
        if key in self._rooms:
            self._rooms.move_to_end(key)
        else:
            self._add(team, channel, tell=True)
        return room_channel(team, channel)

    async def seen(self, team: str, user_id: str, name: str) -> None:
        """A person spoke in a room of ``team``: make sure the poster knows their name
        (told before their event goes on the layer, so before any reply to it)."""
        if not _valid_id(user_id) or not name or len(name) > 200:
            return
        key = (team, user_id)
        if self._people.get(key) == name:
            self._people.move_to_end(key)
            return
        self._people[key] = name
        while len(self._people) > self._max_rooms:
            self._people.popitem(last=False)
        state = self._teams.get(team)
        if state is not None and state.lease.holder not in (None, self.me):
            await self._tell(team, [], [[user_id, name]], within=_TELL_WITHIN)

    def _add(self, team: str, channel: str, tell: bool) -> None:
        self._rooms[(team, channel)] = None
        while len(self._rooms) > self._max_rooms:
            (old_team, old), _ = self._rooms.popitem(last=False)
            gone = self._teams.get(old_team)
            if gone is not None:
                self._stop_runner(gone, room_channel(old_team, old))
        state = self._team(team)
        if state is None:  # stopping: nobody here serves it any more
            return
        if state.lease.held:
            self._serve(team, state, room_channel(team, channel), self._room_handler(team, channel))
        elif tell and state.lease.holder is not None:
            self._spawn(self._tell(team, [channel]))
        # No poster known yet: the first renewal tells it (``_changed``).

    def _team(self, team: str) -> _Team | None:
        state = self._teams.get(team)
        if state is None and not self._stopped:

            async def changed(holder: str | None) -> None:
                await self._changed(team, holder)

            state = self._teams[team] = _Team(Lease(self._claims, team, self.me, self._ttl,
                                                    changed))  # fmt: skip
            state.task = asyncio.get_running_loop().create_task(
                state.lease.run(), name=f"slack-poster-{team}"
            )
        return state

    def _channels_of(self, team: str) -> list[str]:
        return [channel for (where, channel) in self._rooms if where == team]

    def _people_of(self, team: str) -> list[list[str]]:
        return [[user, name] for (where, user), name in self._people.items() if where == team]

    async def _changed(self, team: str, holder: str | None) -> None:
        state = self._teams[team]
        if holder == self.me:
            self._count("poster_gained")
            self._log(logging.INFO, f"poster.{team}", "slack: this server now posts the "
                      "rooms of team %s", team)  # fmt: skip
            self._serve(team, state, notice_channel(team), self._notice_handler(team))
            for channel in self._channels_of(team):
                self._serve(team, state, room_channel(team, channel),
                            self._room_handler(team, channel))  # fmt: skip
            return
        if state.runners:
            self._count("poster_lost")
            for name in list(state.runners):
                self._stop_runner(state, name)
        if holder is not None:  # a new poster: tell it every room and person we know
            await self._tell(team, self._channels_of(team), self._people_of(team))

    async def _tell(self, team: str, channels: list[str], people: list[list[str]] | None = None,
                    within: float | None = None) -> None:  # fmt: skip
        people = people or []
        within = self._ttl if within is None else within
        for start in range(0, max(len(channels), len(people)), _NOTICE_CHUNK):
            notice = {
                "type": NOTICE,
                "channels": channels[start : start + _NOTICE_CHUNK],
                "people": people[start : start + _NOTICE_CHUNK],
            }
            try:
                await asyncio.wait_for(self._layer.send(notice_channel(team), notice),
                                       within)  # fmt: skip
            except (ChannelFull, LayerUnavailable, TimeoutError, OSError) as exc:
                self._count("room_notice_failed")
                self._log(logging.WARNING, "room_notice", "slack: could not tell the poster "
                          "of team %s about rooms: %r", team, exc)  # fmt: skip
                return

    # -- receiving (the poster only) --------------------------------------------------

    def _room_handler(self, team: str, channel: str) -> Callable[[Content], Awaitable[None]]:
        target = Target(team, channel)

        async def handle(message: Content) -> None:
            await self._handle(target, message)

        return handle

    def _notice_handler(self, team: str) -> Callable[[Content], Awaitable[None]]:
        async def handle(message: Content) -> None:
            channels = message.get("channels") if message.get("type") == NOTICE else None
            if not isinstance(channels, list):
                self._count("room_notice_malformed")
                return
            for channel in channels[:_NOTICE_CHUNK]:
                if isinstance(channel, str) and _valid_id(channel):
                    if (team, channel) in self._rooms:
                        self._rooms.move_to_end((team, channel))
                    else:
                        self._add(team, channel, tell=False)
            people = message.get("people")
            for person in people[:_NOTICE_CHUNK] if isinstance(people, list) else ():
                if (
                    isinstance(person, list | tuple)
                    and len(person) == 2
                    and isinstance(person[0], str)
                    and _valid_id(person[0])
                    and isinstance(person[1], str)
                    and 0 < len(person[1]) <= 200
                ):
                    self._names.put(team, f"u:{person[0]}", person[1])

        return handle

    def _serve(self, team: str, state: _Team, name: str,
               handle: Callable[[Content], Awaitable[None]]) -> None:  # fmt: skip
        if name in state.runners or self._stopped:
            return
        runner = _Runner()
        state.runners[name] = runner
        runner.task = asyncio.get_running_loop().create_task(
            self._run(runner, name, handle), name=f"slack-room:{name}"
        )

    def _stop_runner(self, state: _Team, name: str) -> None:
        runner = state.runners.pop(name, None)
        if runner is None:
            return
        runner.stopping = True
        if runner.idle and runner.task is not None:
            runner.task.cancel()  # the layer pushes back what its pop had taken

    async def _run(self, runner: _Runner, name: str,
                   handle: Callable[[Content], Awaitable[None]]) -> None:  # fmt: skip
        while not runner.stopping:
            runner.idle = True
            try:
                batch = await self._layer.receive_many(name, _BATCH)
            except asyncio.CancelledError:
                return
            except Exception as exc:  # the layer reconnects itself; do not spin meanwhile
                self._count("room_receive_errors")
                self._log(logging.WARNING, "room_receive", "slack: receive on %s failed: %r",
                          name, exc)  # fmt: skip
                await asyncio.sleep(0.5)
                continue
            finally:
                runner.idle = False
            for message in batch:  # a batch taken is handed over whole: never cut midway
                try:
                    await handle(message)
                except Exception:
                    self._count("errors")
                    logging.getLogger("telephonist.interfaces.slack").exception(
                        "slack: a message on %s could not be carried out", name
                    )

    # -- lifecycle --------------------------------------------------------------------

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        """Stop receiving (what was taken and not handed over goes back on the layer)
        and renewing; :meth:`release` then gives the leases up."""
        self._stopped = True
        tasks: list[asyncio.Task[None]] = list(self._tasks)
        for state in self._teams.values():
            if state.task is not None:
                state.task.cancel()
                tasks.append(state.task)
            for name, runner in list(state.runners.items()):
                self._stop_runner(state, name)
                if runner.task is not None:
                    tasks.append(runner.task)
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), self._ttl)

    async def release(self) -> None:
        """Give the leases up, once the outboxes have posted what this server took (so
        the next poster's first posts come after them, unless the drain outlasted the
        lease): the next server takes over at its next renewal, not ``poster_lease``
        later."""
        for state in self._teams.values():
            await state.lease.release()

"""``IrcInterface``: IRC networks <-> the channel layer, through the interface host.

Theory of operation
-------------------
One :class:`~.network.NetworkClient` per configured network keeps the connection up.
Every line it reads comes to :meth:`IrcInterface.on_line` (synchronously, in order),
which maps it to an event (``events.py``) and puts it on that network's inbound queue.
One *pump* task per network takes events off the queue in order, finds the event's
conversation (``conversations.py``: one reply channel per room) and hands it to
``host.send_event`` with that conversation as the ``connection``, so the host stamps
``reply_channel`` and ``order`` and keeps the room's events on one worker. When several
events wait, the pump hands those of conversations already bound to a worker over in one
go (``host.send_events``, up to 64: over Redis one script call, not a round trip each);
the first event of a new conversation, and an event the layer refused, go the one-at-a-
time way below.

Backpressure is IRC's own (``backpressure.py`` decides, the pump acts): when the layer
answers ``ChannelFull``, the pump stops reading that network's socket (the server and
the kernel buffer what follows) and retries the same event after 1 ms, then after
doubling waits up to ``full_retry_max``, dropping it (counted) after ``full_timeout``.
Reading also stops while the inbound queue is above a high-water mark, and starts
again as soon as events go through and the pump has caught up. The log names the
channel that refused (a worker's inbox, usually), not the event's channel. Other
networks are unaffected.

Messages that consumers send to a conversation's reply channel arrive in
:meth:`_on_reply`; ``replies.py`` turns them into lines (or rejects them, logged and
counted) and the network client sends them through its token bucket.

Counters (``host.count``): ``rejected``, ``backpressure_pauses`` (stalls: the layer
refused and reading stopped), ``backpressure_retries``, ``dropped_full``,
``dropped_too_large``, ``dropped_disconnected``, ``dropped_queue_full``, ``aborted``,
``ignored_own_message``, ``ignored_server_notice``, ``ctcp_answered``, ``ctcp_ignored``,
``chat_fallback_<kind>``, ``chat_declined_<kind>``, ``errors`` (an unexpected exception,
logged with its traceback).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, ClassVar

from ...chat import RateLimitedLog
from ...core.codec import Content
from ...core.exceptions import ChannelFull, LayerUnavailable, MessageTooLarge
from ..base import ABORT, Interface, InterfaceConfig, InterfaceHost
from . import spec
from .backpressure import Backpressure
from .config import IrcConfig
from .conversations import Conversation, Conversations
from .ctcp import Ctcp, answer
from .events import Event, Ignored, map_line
from .flood import TokenBucket
from .lines import Line, UnsafeLine, format_line
from .network import NetworkClient
from .replies import Rejected, plan_reply
from .text import relay_budget, single_line
from .transport import IrcReactor

__all__ = ["IrcInterface"]

_CTCP_BURST, _CTCP_RATE = 3, 0.5  # CTCP answers: a CTCP flood must not fill our queue
# Events published in one go, at most: well under the Redis layer's 500 messages per
# script call, so a batch's capacity is checked in one call (see ``send_events``).
_BATCH = 64


class IrcInterface(Interface):
    name = "irc"
    config_model: ClassVar[type[InterfaceConfig]] = IrcConfig
    event_channels = spec.EVENT_CHANNELS

    @classmethod
    def idle_reason(cls, config: InterfaceConfig) -> str | None:
        if isinstance(config, IrcConfig) and not config.networks:
            return (
                "no network configured (add one: [[interfaces.irc.networks]] with name, "
                "host, port, tls, nick and channels; docs/irc.md)"
            )
        return None

    def __init__(self, config: InterfaceConfig, host: InterfaceHost) -> None:
        super().__init__(config, host)
        if not isinstance(config, IrcConfig):
            config = IrcConfig.model_validate(config.model_dump())
        self.settings: IrcConfig = config
        self.clients: dict[str, NetworkClient] = {}
        self.conversations = Conversations(host, self._on_reply)
        self._inbound: dict[str, asyncio.Queue[Event]] = {}
        self._pressure: dict[str, Backpressure] = {}
        self._stopping = False
        self._pumps: list[asyncio.Task[None]] = []
        self._ctcp: dict[str, TokenBucket] = {}
        self._published = frozenset(f"irc-client.{kind}" for kind in config.events)
        self._declines = RateLimitedLog(self.log)

    # -- Interface contract -------------------------------------------------------------

    async def start(self) -> None:
        reactor = IrcReactor(asyncio.get_running_loop())
        for network in self.settings.networks:
            client = NetworkClient(network, reactor, self)
            self.clients[network.name] = client
            self._inbound[network.name] = asyncio.Queue()
            self._pressure[network.name] = Backpressure(
                max_delay=network.full_retry_max, give_up=network.full_timeout
            )
            self._ctcp[network.name] = TokenBucket(_CTCP_BURST, _CTCP_RATE)
            self._pumps.append(asyncio.ensure_future(self._pump(client)))
            client.start()

    async def stop(self, drain_timeout: float) -> None:
        self._stopping = True  # the pumps must not start reading again
        for client in self.clients.values():
            client.pause_reading()  # no new work; replies in flight may still be sent
        drains = [asyncio.ensure_future(c.drain()) for c in self.clients.values()]
        if drains:
            await asyncio.wait(drains, timeout=drain_timeout)
            for drain in drains:
                drain.cancel()
        await asyncio.gather(
            *(c.stop(c.config.quit_message) for c in self.clients.values()),
            return_exceptions=True,
        )
        for pump in self._pumps:
            pump.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)
        self._pumps.clear()
        self.conversations.close_all()

    def endpoints(self) -> list[str]:
        return [
            f"{'ircs' if n.tls else 'irc'}://{n.host}:{n.port} ({n.name} as {n.nick})"
            for n in self.settings.networks
        ]

    def status(self) -> dict[str, Any]:
        return {
            "networks": {
                name: {**client.status(), "reading": not self._pressure[name].paused}
                for name, client in self.clients.items()
            },
            "conversations": self.conversations.count(),
        }

    # -- NetworkOwner callbacks (synchronous, on the loop) ----------------------------

    def on_registered(self, client: NetworkClient) -> None:
        message: Content = {
            "type": spec.CONNECT,
            "network": client.name,
            "server": [client.config.host, client.config.port],
            "nick": client.session.nick,
            "caps": sorted(client.negotiation.enabled),
            "account": client.negotiation.account or "",
        }
        self._publish(client, Event(spec.CONNECT, message, None))

    def on_disconnected(self, client: NetworkClient, reason: str, registered: bool) -> None:
        message: Content = {
            "type": spec.DISCONNECT,
            "network": client.name,
            "server": [client.config.host, client.config.port],
            "reason": reason,
            "registered": registered,
        }
        self._publish(client, Event(spec.DISCONNECT, message, None))

    def on_line(self, client: NetworkClient, line: Line) -> None:
        result = map_line(line, client.session, client.name)
        if isinstance(result, Ignored):
            if result.reason == "ctcp_request" and result.ctcp and result.source:
                self._answer_ctcp(client, result.ctcp, result.source.nick)
            elif result.reason in ("own_message", "server_notice"):
                self.host.count(f"ignored_{result.reason}")
            return
        for event in result if isinstance(result, list) else [result]:
            if event.channel == spec.KICK and event.message["self"]:
                self._kicked(client, event.message["room"])
            self._publish(client, event)

    # -- inbound ----------------------------------------------------------------------

    def _kicked(self, client: NetworkClient, room: str) -> None:
        if client.config.rejoin_on_kick:
            client.send([format_line("JOIN", room, trailing=False)])
        else:
            client.forget_channel(room)  # not wanted there: do not rejoin on reconnect

    def _publish(self, client: NetworkClient, event: Event) -> None:
        queue = self._inbound.get(client.name)
        if queue is None or event.channel not in self._published:
            return
        queue.put_nowait(event)
        if self._pressure[client.name].queued(queue.qsize()):
            client.pause_reading()

    async def _pump(self, client: NetworkClient) -> None:
        queue = self._inbound[client.name]
        pressure = self._pressure[client.name]
        while True:
            batch = [await queue.get()]
            while queue.qsize() and len(batch) < _BATCH:
                batch.append(queue.get_nowait())
            done, batching = 0, len(batch) > 1
            while done < len(batch):
                try:
                    taken = await self._deliver_bound(client, batch, done) if batching else 0
                    if taken < len(batch) - done and batching:
                        # Refused, or a conversation to open: one at a time from here,
                        # so a full inbox is not offered the whole batch again and again.
                        batching = False
                    if not taken:
                        await self._deliver(client, batch[done], pressure)
                        taken = 1
                except Exception:  # a bug must not silence the network: log, count, go on
                    self.host.count("errors")
                    self.log.exception("could not publish a %s event", batch[done].channel)
                    taken = 1
                done += taken
            resumed = pressure.settled(queue.qsize())
            if resumed is not None and not self._stopping:
                client.resume_reading()
                if resumed.warned and resumed.stalled_for is not None:
                    self.log.info(
                        "reading %s again: the layer took events again after %.3fs",
                        client.name,
                        resumed.stalled_for,
                    )

    async def _deliver_bound(self, client: NetworkClient, batch: list[Event], start: int) -> int:
        """Publish events from ``batch[start]`` on in one go (``host.send_events``: over
        Redis one round trip, not one per event), as far as their conversations are open
        and bound to a worker; returns how many were done with (published, or dropped
        the way ``_deliver`` drops them). An event the layer refused is left, with the
        rest, for ``_deliver``, which retries it with back-off: the same backpressure,
        and the same order, as one event at a time."""
        if len(batch) - start < 2:
            return 0  # one event: the general path costs no more
        fold = client.session.fold
        items: list[tuple[str, Content, str]] = []
        for event in batch[start:]:
            folded = fold(event.room) if event.room is not None else None
            conv = self.conversations.find(client.name, folded)
            if conv is None:
                break  # a new conversation: opened by _deliver
            items.append((event.channel, event.message, conv.reply_channel))
        if len(items) < 2:
            return 0
        outcomes = await self.host.send_events(items)
        for k, outcome in enumerate(outcomes):
            if isinstance(outcome, ChannelFull):
                return k  # _deliver retries it (and the layer refused what follows too)
        return len(outcomes)

    async def _deliver(self, client: NetworkClient, event: Event, pressure: Backpressure) -> None:
        fold = client.session.fold
        folded = fold(event.room) if event.room is not None else None
        limit = client.config.max_conversations
        conv = self.conversations.find(client.name, folded)
        if conv is None:
            conv = await self.conversations.get(client.name, event.room, folded, limit)
        while True:
            try:
                await self.host.send_event(
                    event.channel, event.message, connection=conv.reply_channel
                )
                return
            except ChannelFull as exc:
                refusal = pressure.refused()
                if refusal.pause:
                    client.pause_reading()
                if refusal.new_stall:
                    self.host.count("backpressure_pauses")
                if refusal.warn:
                    more = f" ({refusal.unlogged} more stalls since the last warning)"
                    self.log.warning(
                        "%s: stopped reading: %s (event %s waits for room); "
                        "reading again as soon as the layer takes it%s",
                        client.name,
                        exc,
                        event.channel,
                        more if refusal.unlogged else "",
                    )
                if refusal.delay is None:
                    self.host.count("dropped_full")
                    self.log.error(
                        "dropped a %s event from %s: refused for %.1fs: %s",
                        event.channel,
                        client.name,
                        pressure.give_up,
                        exc,
                    )
                    return
                self.host.count("backpressure_retries")
                await asyncio.sleep(refusal.delay)  # back-off while the layer is full
            except MessageTooLarge:
                self.host.count("dropped_too_large")
                self.log.warning("dropped an event too large for the layer on %s", event.channel)
                return
            except LayerUnavailable as exc:
                # The layer is down past its retry budget. The IRC connection stays (a
                # reconnect would only flood the network); what could not be delivered
                # is counted, and said once a minute.
                self.host.count("dropped_layer_unavailable")
                self._declines.warning(
                    "layer", "dropped %s events from %s: the layer is unreachable: %s",
                    event.channel, client.name, exc,
                )  # fmt: skip
                return

    def _answer_ctcp(self, client: NetworkClient, request: Ctcp, nick: str) -> None:
        clean = Ctcp(request.verb, single_line(request.params)[:400])
        text = answer(
            clean, client.config.version_reply, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        )
        budget = relay_budget("NOTICE", nick, client.session.source_length())
        if text is None or len(text.encode()) > budget or not self._ctcp[client.name].take():
            self.host.count("ctcp_ignored")
            return
        try:
            line = format_line("NOTICE", nick, text)
        except UnsafeLine:
            self.host.count("ctcp_ignored")
            return
        if client.send([line]):
            self.host.count("ctcp_answered")

    # -- replies ----------------------------------------------------------------------

    async def _on_reply(self, conv: Conversation, message: Content) -> None:
        if message.get("type") == ABORT:
            self.host.count("aborted")
            self.conversations.forget(conv)
            return
        client = self.clients.get(conv.network)
        if client is None:
            return
        try:
            plan = plan_reply(message, conv.room, client.session, client.negotiation.enabled)
        except (Rejected, UnsafeLine) as exc:
            self.host.count("rejected")
            self.log.warning("rejected a reply for %s %s: %s", conv.network, conv.room, exc)
            return
        if plan.declined is not None:
            self.host.count(f"chat_declined_{plan.declined}")
            self._declines.warning(
                f"declined:{plan.declined}",
                "declined a chat %s reply for %s %s: IRC cannot do it and it has no fallback",
                plan.declined,
                conv.network,
                conv.room,
            )
            return
        if plan.fallback is not None:
            self.host.count(f"chat_fallback_{plan.fallback}")
        if plan.quit is not None:
            await client.quit(plan.quit)
            return
        if plan.type == spec.SEND_JOIN and plan.channel:
            client.want_channel(plan.channel, plan.key)
        elif plan.type == spec.SEND_PART and plan.channel:
            client.forget_channel(plan.channel)
        if not client.registered:
            self.host.count("dropped_disconnected")
            self.log.warning("%s is not connected: dropped a %s", conv.network, plan.type)
        elif not client.send(plan.lines):
            self.host.count("dropped_queue_full")
            self.log.warning("send queue of %s is full: dropped a %s", conv.network, plan.type)

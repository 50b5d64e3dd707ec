"""The udpchat interface: one UDP socket; a conversation per peer address.

A connectionless protocol has no "connection" for the interface server's affinity, so
this interface decides what one is: a peer's datagrams from the first until the peer
has been quiet for ``idle_timeout`` seconds. Each conversation has a reply channel and
one task that sends its events one at a time (the server's rule for a connection), fed
by a bounded queue: ``datagram_received`` is synchronous and must never wait.

Limits, and the protocol's answer to each (UDP has no back-pressure: what does not fit
is dropped, counted, and the peer told with an error datagram where it helps):
``max_datagram_bytes`` (``error: datagram too large``), ``max_peers`` conversations at
once (``error: too many peers``), ``max_pending`` datagrams of one peer waiting for the
layer (``error: server overloaded``, as is ``ChannelFull`` from the host).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from pydantic import Field

from telephonist.chat import (
    ChatContractError,
    EventKind,
    RateLimitedLog,
    degrade,
    is_chat_reply,
    make_event,
    rendered_lines,
    validate_reply,
)
from telephonist.core.codec import Content
from telephonist.core.exceptions import ChannelFull, MessageTooLarge
from telephonist.interfaces.base import ABORT, Interface, InterfaceConfig, InterfaceHost

__all__ = ["UdpChatConfig", "UdpChatInterface"]

Address = tuple[str, int]


class UdpChatConfig(InterfaceConfig):
    #: Address to listen on.
    host: str = "127.0.0.1"
    #: UDP port; 0 picks a free one.
    port: int = Field(default=7001, ge=0, le=65535)
    #: Room every peer talks in.
    room: str = "lobby"
    #: Largest datagram accepted; a larger one is answered with an error and dropped.
    max_datagram_bytes: int = Field(default=1024, ge=16, le=65_507)
    #: Conversations (peers) at once; a new peer beyond them gets an error.
    max_peers: int = Field(default=1000, ge=1)
    #: Seconds of silence that end a peer's conversation (its reply channel closes).
    idle_timeout: float = Field(default=300.0, gt=0, le=86_400)
    #: Datagrams of one peer waiting for the layer; more are dropped.
    max_pending: int = Field(default=16, ge=1, le=10_000)


class _Peer:
    def __init__(self, address: Address, max_pending: int) -> None:
        self.address = address
        self.user = f"{address[0]}:{address[1]}"
        self.reply = ""
        self.sent = 0
        self.inbox: asyncio.Queue[bytes] = asyncio.Queue(max_pending)
        self.task: asyncio.Task[None] | None = None
        self.closed = False


class UdpChatInterface(Interface, asyncio.DatagramProtocol):
    name = "udpchat"
    config_model = UdpChatConfig
    event_channels = ("udpchat.message", "udpchat.leave")

    config: UdpChatConfig  # self.config is the validated [interfaces.udpchat] table

    def __init__(self, config: InterfaceConfig, host: InterfaceHost) -> None:
        super().__init__(config, host)
        self._transport: asyncio.DatagramTransport | None = None
        self._peers: dict[Address, _Peer] = {}
        self._declines = RateLimitedLog(self.log)

    # -- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(
            lambda: self, local_addr=(self.config.host, self.config.port)
        )

    def endpoints(self) -> list[str]:
        if self._transport is None:
            return []
        host, port = self._transport.get_extra_info("sockname")[:2]
        return [f"udp://{host}:{port}"]

    def status(self) -> dict[str, Any]:
        return {"peers": len(self._peers)}

    async def stop(self, drain_timeout: float) -> None:
        peers = list(self._peers.values())
        # Let each conversation send what it already queued, then end (b"": see
        # datagram_received); a full queue is cut off at the drain bound instead.
        for peer in peers:
            with contextlib.suppress(asyncio.QueueFull):
                peer.inbox.put_nowait(b"")
        tasks = [p.task for p in peers if p.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=drain_timeout)
        for peer in peers:
            self._send(peer, ["* server shutting down, goodbye"])
            await self._end(peer, "server shutdown")
        if self._transport is not None:
            self._transport.close()

    # -- datagrams in -----------------------------------------------------------------

    def datagram_received(self, data: bytes, addr: Address) -> None:
        self.host.count("datagrams_in")
        address = (str(addr[0]), int(addr[1]))
        if len(data) > self.config.max_datagram_bytes:
            self.host.count("too_large")
            self._sendto(address, f"error: too large (max {self.config.max_datagram_bytes} bytes)")
            return
        peer = self._peers.get(address)
        if peer is None:
            if len(self._peers) >= self.config.max_peers:
                self.host.count("peers_rejected")
                self._sendto(address, "error: too many peers, try again later")
                return
            peer = self._peers[address] = _Peer(address, self.config.max_pending)
            peer.task = asyncio.get_running_loop().create_task(self._converse(peer))
        if not data.strip():
            return  # an empty datagram is how stop() wakes a conversation: never one of ours
        try:
            peer.inbox.put_nowait(data)
        except asyncio.QueueFull:
            self.host.count("overloaded")
            self._sendto(address, "error: server overloaded, slow down")

    async def _converse(self, peer: _Peer) -> None:
        """One conversation: its reply channel, then its events one at a time."""
        peer.reply = await self.host.open_reply_channel(
            lambda message: self._on_reply(peer, message), prefix="udpchat"
        )
        while not peer.closed:
            try:
                data = await asyncio.wait_for(peer.inbox.get(), self.config.idle_timeout)
            except TimeoutError:
                self.host.count("idle_closed")
                await self._end(peer, "idle")
                return
            if not data:
                return  # stop(): the goodbye is sent there
            await self._publish(peer, data.decode("utf-8", "replace").strip())

    async def _publish(self, peer: _Peer, text: str) -> None:
        if text.startswith("/nick ") and text[6:].strip():
            peer.user = text[6:].strip()
            return
        kind: EventKind = "message"
        if text.startswith("/me ") and text[4:].strip():
            kind, text = "action", text[4:]
        message = {**self._event(peer, kind, text), "type": "udpchat.message"}
        try:
            await self.host.send_event("udpchat.message", message, connection=peer.reply)
        except ChannelFull:  # already counted by the host as "overloaded"
            self._send(peer, ["error: server overloaded, slow down"])
        except MessageTooLarge:
            self.host.count("too_large")
            self._send(peer, ["error: message too large"])

    def _event(self, peer: _Peer, kind: EventKind, text: str = "") -> Content:
        message_id = None
        if kind in ("message", "action"):
            peer.sent += 1
            message_id = f"{peer.reply}.{peer.sent}"
        event = make_event("udpchat", kind, text=text, room=self.config.room,
                           user=peer.user, user_id=f"{peer.address[0]}:{peer.address[1]}",
                           message_id=message_id, is_self=kind == "leave")  # fmt: skip
        return dict(event)

    # -- replies out ------------------------------------------------------------------

    async def _on_reply(self, peer: _Peer, message: Content) -> None:
        if message.get("type") == ABORT:
            # The conversation's worker is gone: say so, end the conversation (the
            # reply channel stays open until we close it). The next datagram starts anew.
            self.host.count("aborted")
            self._send(peer, [f"error: conversation aborted ({message.get('reason')})"])
            await self._end(peer, "aborted")
        elif is_chat_reply(message):
            try:
                reply = validate_reply(message)
            except ChatContractError as exc:
                self.host.count("unknown_replies")
                self._declines.warning("refused", "udpchat: refused a reply: %s", exc)
                return
            supported = ("message", "action", "notice")
            outcome = degrade(reply, supported, self.host.count, self._declines, "udpchat")
            if outcome.reply is not None:
                self._send(peer, rendered_lines(outcome.reply))
        else:
            self.host.count("unknown_replies")

    def _send(self, peer: _Peer, lines: list[str]) -> None:
        for line in lines:
            self._sendto(peer.address, line)

    def _sendto(self, address: Address, line: str) -> None:
        if self._transport is not None and not self._transport.is_closing():
            # No back-pressure in UDP: a full socket buffer drops, as the network may.
            self._transport.sendto(line.encode()[: self.config.max_datagram_bytes], address)

    async def _end(self, peer: _Peer, reason: str) -> None:
        """The conversation's last event, then its reply channel closes (in that order)."""
        if peer.closed:
            return
        peer.closed = True
        if self._peers.get(peer.address) is peer:
            del self._peers[peer.address]
        if peer.task is not None and peer.task is not asyncio.current_task():
            # One event at a time per conversation: its sender stops before the last.
            peer.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await peer.task
        if peer.reply:
            leave = {**self._event(peer, "leave"), "type": "udpchat.leave", "reason": reason}
            with contextlib.suppress(ChannelFull, MessageTooLarge):
                await self.host.send_event("udpchat.leave", leave, connection=peer.reply)
            self.host.close_reply_channel(peer.reply)

"""One WebSocket connection: Autobahn's server protocol, bridged to the channel layer.

Theory of operation
-------------------
The HTTP side has parsed and checked the upgrade request; it hands the transport and
the raw head to this protocol, and Autobahn validates the handshake (version, key).
``onConnect`` then *holds* the handshake: it returns a Deferred, sends
``websocket.connect`` to the layer and fires the Deferred when the consumer answers:
``websocket.accept`` completes the handshake (101), ``websocket.close`` fails it with
403. Nobody answering within ``handshake_timeout`` gets 504, the same answer as an HTTP
request nobody answers: the client can tell "refused" from "no one home".

Frames become ``websocket.receive`` events. Autobahn calls ``onMessage`` synchronously
while sending to the layer is a coroutine, so events queue in ``_outbox``, drained by
one task per connection: that keeps them in order, and when the queue reaches
``max_pending_messages`` the socket stops being read until it drains. ``ChannelFull``
closes the socket with 1013 (try again later); ``websocket.disconnect`` is the last
event, after which the reply channel is closed.

A client accepted with the chat subprotocol speaks the chat contract in JSON frames
(``chat.py``); chat replies to any other connection become plain text frames.

Server-side close codes 1001/1009/1011/1013 are not allowed through Autobahn's
``sendClose`` (it only lets applications use 1000 and 3000-4999), so they go through
``sendCloseFrame``.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any, Protocol, cast

from autobahn.twisted.websocket import WebSocketServerProtocol
from autobahn.websocket.types import ConnectionDeny
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from ...chat import WEBSOCKET_SUBPROTOCOL, ChatContractError, is_chat_reply, make_event
from ...core.exceptions import ChannelFull, LayerUnavailable, MessageTooLarge
from ...spec.websocket import (
    CONNECT,
    DISCONNECT,
    RECEIVE,
    WebSocketConnectEvent,
    WebSocketDisconnectEvent,
    WebSocketReceiveEvent,
)
from ...spec.www import WwwScope
from ..base import ABORT, InterfaceHost
from ..sendnow import can_send_now, send_now
from .chat import STATE_TYPE, ChatFrameError, ChatSocket, plain_reply
from .config import WebSocketConfig
from .frames import LastFrame
from .messages import Accept, Close, ReplyError, Send, is_wire_code, parse_reply
from .origin import OriginPolicy

__all__ = ["Hub", "ServerWebSocket"]

STATE_OPEN = 3  # WebSocketProtocol.STATE_OPEN
_LAST = LastFrame()  # one per process: a broadcast's sockets all share its loop
#: Keys of the Channels 1.x reply form: such a dict is not a chat reply.
_CHANNELS1 = frozenset({"accept", "bytes", "close"})
#: What a plain text frame can carry; reactions, edits and deletes fall back or decline.
_PLAIN_KINDS = frozenset({"message", "action", "notice"})

# Autobahn's annotations are partial (untyped callbacks, a narrower ``onConnect``
# return type than the Deferred it documents): the base is used untyped.
_Base: Any = WebSocketServerProtocol
_Deny: Any = ConnectionDeny
_Fail: Any = Failure

#: What goes onto the layer for one connection, in order.
_Event = WebSocketConnectEvent | WebSocketReceiveEvent | WebSocketDisconnectEvent


class Hub(Protocol):
    """What a socket needs of the hub that made it (``hub.WebSocketHub``)."""

    config: WebSocketConfig
    host: InterfaceHost
    origins: OriginPolicy
    retry_after: int

    def report(self, counter: str, reason: str) -> None: ...

    def opened(self, proto: ServerWebSocket) -> None: ...

    def closed(self, proto: ServerWebSocket, code: int | None = None) -> None: ...


class ServerWebSocket(_Base):  # type: ignore[misc]
    """Set by the hub before the handshake bytes are fed: ``hub`` and ``scope``."""

    hub: Hub
    scope: WwwScope

    def __init__(self) -> None:
        super().__init__()
        self.reply_channel = ""
        self._handshake: Deferred[Any] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._delivered = False  # websocket.connect is on the layer
        self._gone = False
        self._outbox: deque[tuple[str, _Event]] = deque()
        self._draining = False
        self._reading_paused = False
        self._refusing = False  # closed for overload: drop further frames
        self.chat_user = ""
        self.chat: ChatSocket | None = None  # set when accepted with the chat subprotocol
        # Keepalive (keepalive.py): when the peer last sent anything, and when our
        # unanswered ping left (0.0: none), on the loop's clock.
        self.last_seen = time.monotonic()
        self.ping_sent = 0.0
        self._direct = False

    # -- bytes in and out -------------------------------------------------------------

    def connectionMade(self) -> None:
        super().connectionMade()
        self._direct = can_send_now(self.transport)

    def dataReceived(self, data: bytes) -> None:
        # Straight to Autobahn's parser: its Twisted adapter formats a debug line's
        # arguments for every read, debug on or not. Any bytes prove the peer alive.
        self.last_seen = time.monotonic()
        self.ping_sent = 0.0
        self._dataReceived(data)

    def sendData(self, data: bytes, sync: bool = False, chopsize: int | None = None) -> None:
        """Every frame Autobahn writes: sent at once when the socket takes it
        (``sendnow.py``); Autobahn's own path (and its per-frame debug formatting) only
        for chopped or queued writes, which we never ask for."""
        if sync or chopsize or self.send_queue or not self._direct:
            super().sendData(data, sync, chopsize)
            return
        rest = send_now(self.transport, data)
        if rest:
            self.transport.write(rest)

    # -- handshake --------------------------------------------------------------------

    def onConnect(self, request: Any) -> Deferred[Any]:
        hub = self.hub
        origin = request.headers.get("origin")
        if not hub.origins.allows(origin):
            hub.report("ws_origin_denied", f"origin {origin!r} not allowed")
            raise _Deny(403, "Origin Not Allowed")
        client = self.scope.get("client")
        self.chat_user = f"{client[0]}:{client[1]}" if client else "unix"
        self._handshake = Deferred()
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(hub.config.handshake_timeout, self._handshake_timed_out)
        self._connecting = loop.create_task(self._connect(list(self.websocket_protocols or [])))
        return self._handshake

    async def _connect(self, subprotocols: list[str]) -> None:
        host = self.hub.host
        self.reply_channel = await host.open_reply_channel(self._on_reply, prefix="ws")
        if self._gone:
            host.close_reply_channel(self.reply_channel)
            return
        message: WebSocketConnectEvent = {
            "type": CONNECT,
            **self.scope,
            "subprotocols": subprotocols,
        }
        try:
            # The ignores on send_event: an event TypedDict is a plain dict at run time,
            # but mypy does not take it for the layer's dict[str, Any] (a cast would
            # cost a call per event).
            await host.send_event(
                CONNECT,
                message,  # type: ignore[arg-type]
                connection=self.reply_channel,
            )
        except ChannelFull:
            self.hub.report("channel_full", "websocket.connect is full")
            self._deny(503, "Service Unavailable")
        except LayerUnavailable as exc:
            self.hub.report("layer_unavailable", str(exc))
            self._deny(503, "Service Unavailable")
        except MessageTooLarge as exc:
            self.hub.report("message_too_large", str(exc))
            self._deny(431, "Request Header Fields Too Large")
        except Exception as exc:  # any other layer error: an answer, not a dead task
            self.hub.report("layer_error", repr(exc))
            self._deny(503, "Service Unavailable")
        else:
            self._delivered = True

    def _handshake_timed_out(self) -> None:
        self._timer = None
        if self._handshake is not None and not self._handshake.called:
            self.hub.report("ws_handshake_timeout", "no websocket.accept in time")
            self._deny(504, "Gateway Timeout")

    def _deny(self, status: int, reason: str) -> None:
        handshake, self._handshake = self._handshake, None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if handshake is not None and not handshake.called:
            handshake.errback(_Fail(_Deny(status, reason)))

    def failHandshake(self, reason: str, code: int = 400, responseHeaders: Any = None) -> None:
        headers = list(responseHeaders or [])
        if code == 503:
            headers.append(("Retry-After", str(self.hub.retry_after)))
        super().failHandshake(reason, code, headers)

    # -- replies from the consumer ----------------------------------------------------

    def _on_reply(self, message: dict[str, Any]) -> None:
        # A plain function, never waiting: the server may call it right where the layer
        # delivers (a broadcast: one pass over the sockets, no task wake-up per member).
        if message.get("type") == ABORT:
            self.hub.report("aborted", f"worker gone: {message.get('reason')}")
        if message.get("type") == STATE_TYPE or (
            is_chat_reply(message) and _CHANNELS1.isdisjoint(message)
        ):
            self._chat_reply(message)
            return
        try:
            actions = parse_reply(message)
            for action in actions:
                self._apply(action)
        except ReplyError as exc:
            self.hub.report("bad_reply", str(exc))
            self._apply(Close(1011, "bad reply", aborted=True))

    def _chat_reply(self, message: dict[str, Any]) -> None:
        """A chat reply (or ``chat.state``): a JSON frame for a chat client, a plain text
        frame for others; one that breaks the contract is counted, and dropped."""
        host = self.hub.host
        try:
            if self.chat is not None:
                self._apply(Send(self.chat.encode(message)))
                return
            if message.get("type") == STATE_TYPE:
                host.count("chat_state_dropped")  # a plain client has no use for it
                return
            text, outcome = plain_reply(message, _PLAIN_KINDS)
        except (ChatContractError, TypeError) as exc:
            self.hub.report("chat_bad_reply", str(exc))
            return
        kind = message.get("kind", "message")
        if outcome != "native":
            host.count(f"chat_{outcome}_{kind}")
        if text is not None:
            self._apply(Send(text))

    def _apply(self, action: Accept | Send | Close) -> None:
        if self._gone:
            return
        pending = self._handshake is not None and not self._handshake.called
        if isinstance(action, Accept):
            if pending:
                self._accept(action)
        elif isinstance(action, Send):
            if pending:  # Channels 1.x: sending before accepting accepts.
                self._accept(Accept())
            if self.state == STATE_OPEN:
                if isinstance(action.data, str):
                    self._send_text(action.data)
                else:
                    self.sendMessage(action.data, isBinary=True)
        elif pending:
            if action.aborted:
                self._deny(502, "Bad Gateway")
            else:
                self._deny(403, "Forbidden")
        elif is_wire_code(action.code):
            self.close_with(action.code, action.reason)
        else:
            self.hub.report("bad_reply", f"close code {action.code} cannot be sent")
            self.close_with(1011, "bad close code")

    def _send_text(self, text: str) -> None:
        # The plain case (no compression, no fragmenting, no frame log) takes a frame
        # built once for every socket sent the same text (frames.py); the payload limit
        # is checked by Autobahn on the other path, which raises for it.
        if (
            self._perMessageCompress is None
            and not self.autoFragmentSize
            and not self.logFrames
            and not self.trackedTimings
        ):
            frame, size = _LAST.text(text)
            if not 0 < self.maxMessagePayloadSize < size:
                stats = self.trafficStats
                stats.outgoingWebSocketMessages += 1
                stats.outgoingWebSocketFrames += 1
                stats.outgoingOctetsAppLevel += size
                stats.outgoingOctetsWebSocketLevel += size
                self.sendData(frame)
                return
        self.sendMessage(text.encode("utf-8"), isBinary=False)

    def _accept(self, action: Accept) -> None:
        if action.subprotocol is not None and action.subprotocol not in (
            self.websocket_protocols or []
        ):
            raise ReplyError(f"subprotocol {action.subprotocol!r} was not offered")
        handshake, self._handshake = self._handshake, None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        assert handshake is not None
        if action.subprotocol == WEBSOCKET_SUBPROTOCOL:
            self.chat = ChatSocket(self.hub.config.chat_max_text)
        handshake.callback((action.subprotocol, dict(action.headers)))

    def close_with(self, code: int, reason: str = "") -> None:
        """Start the closing handshake with any code, 1001/1011/1013 included."""
        if self.state == STATE_OPEN:
            self.sendCloseFrame(code=code, reasonUtf8=reason.encode("utf-8")[:123], isReply=False)
        elif self._handshake is not None:
            self._deny(503, "Service Unavailable")

    # -- frames to events -------------------------------------------------------------

    def onOpen(self) -> None:
        self.hub.opened(self)
        if self.chat is not None:
            self.sendMessage(self.chat.hello().encode("utf-8"), isBinary=False)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        # ``path`` on every event (as in Channels 1.x): routes that filter on the path
        # match a connection's frames and its disconnect, not only its connect.
        path = self.scope["path"]
        message: WebSocketReceiveEvent
        if isBinary:
            message = {"type": RECEIVE, "path": path, "bytes": payload}
        elif self.chat is not None:
            try:
                fields = self.chat.decode(payload.decode("utf-8"), path, self.chat_user)
            except ChatFrameError as error:
                self.hub.host.count(f"chat_refused_{error.code}")
                self.sendMessage(self.chat.error(error).encode("utf-8"), isBinary=False)
                return
            message = cast(WebSocketReceiveEvent, {"type": RECEIVE, "path": path, **fields})
        else:
            text = payload.decode("utf-8")
            contract = make_event("websocket", "message", text=text, room=path,
                                  user=self.chat_user)  # fmt: skip
            # ``text`` stays the frame as sent (ASGI's key, which non-chat consumers
            # read); a chat consumer's view of it is made safe (``read_event``).
            event = {"type": RECEIVE, "path": path, **contract, "text": text}
            message = cast(WebSocketReceiveEvent, event)
        self._queue(RECEIVE, message)

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        if self._gone:
            return
        self._gone = True
        # A handshake still held is abandoned, not failed: there is no one to answer.
        self._handshake = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.localCloseCode == 1009:
            self.hub.report("ws_too_large", "frame or message over the limit")
        if (self.wasNotCleanReason or "").startswith("WebSocket ping timeout"):
            self.hub.report("ws_ping_timeout", "no pong in time")
        final = self.remoteCloseCode or self.localCloseCode or 1006
        if self._delivered:
            disconnect: WebSocketDisconnectEvent = {
                "type": DISCONNECT,
                "path": self.scope["path"],
                "code": final,
            }
            self._queue(DISCONNECT, disconnect)
        elif self.reply_channel:
            self.hub.host.close_reply_channel(self.reply_channel)
        self.hub.closed(self, final)

    def _queue(self, channel: str, message: _Event) -> None:
        if self._refusing and channel == RECEIVE:
            return  # closing for overload: frames still arriving are not forwarded
        self._outbox.append((channel, message))
        full = len(self._outbox) >= self.hub.config.max_pending_messages
        if full and not self._reading_paused and self.transport is not None and not self._gone:
            self._reading_paused = True
            self.transport.pauseProducing()
        if not self._draining:
            self._draining = True
            self._drainer = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        host = self.hub.host
        try:
            while self._outbox:
                channel, message = self._outbox.popleft()
                try:
                    await host.send_event(
                        channel,
                        message,  # type: ignore[arg-type]  # see _connect
                        connection=self.reply_channel,
                    )
                    if self.chat is not None and channel == RECEIVE:
                        ack = self.chat.ack(message)
                        if ack is not None and self.state == STATE_OPEN:
                            self.sendMessage(ack.encode("utf-8"), isBinary=False)
                except ChannelFull:
                    # A refused disconnect has nothing left to answer (counted by the
                    # host); its reply channel is still closed below.
                    if channel != DISCONNECT:
                        self.hub.report("channel_full", f"{channel} is full")
                        self._refusing = True
                        self._outbox = deque(m for m in self._outbox if m[0] != RECEIVE)
                        self.close_with(1013, "try again later")
                except MessageTooLarge as exc:
                    self.hub.report("message_too_large", str(exc))
                    self._refusing = True
                    self.close_with(1009, "message too big")
                except LayerUnavailable as exc:
                    # The layer's server is out for longer than its retry budget. A frame
                    # that cannot reach a consumer closes the socket (1013: the client
                    # may come back) rather than leaving it to lose frames unseen.
                    self.hub.report("layer_unavailable", str(exc))
                    if channel != DISCONNECT:
                        self._refusing = True
                        self._outbox = deque(m for m in self._outbox if m[0] != RECEIVE)
                        self.close_with(1013, "try again later")
                except Exception as exc:  # any other layer error: no frame lost unseen
                    self.hub.report("layer_error", repr(exc))
                    if channel != DISCONNECT:
                        self._refusing = True
                        self._outbox = deque(m for m in self._outbox if m[0] != RECEIVE)
                        self.close_with(1011, "internal error")
                finally:
                    if channel == DISCONNECT:
                        host.close_reply_channel(self.reply_channel)
                if self._reading_paused and len(self._outbox) < 1 + (
                    self.hub.config.max_pending_messages // 2
                ):
                    self._reading_paused = False
                    if not self._gone and self.transport is not None:
                        self.transport.resumeProducing()
        finally:
            self._draining = False

"""The interface contract: what a protocol plugin implements and what the interface
server gives it.

Theory of operation
-------------------
An *interface* turns one protocol's events into messages on the channel layer and turns
messages arriving on its *reply channels* back into protocol actions. It is found through
the ``telephonist.interfaces`` entry-point group (``name = "package.module:Class"``) and
gets exactly the powers below; built-in interfaces get nothing more.

The *interface server* (one per process facing clients; an interface reaches it as
``self.host``) owns the event loop, the layer and the receiving of all of the process's
reply channels (the layer itself runs the one process-wide receive loop; see
``telephonist.server.replies``). An interface never calls ``layer.receive``: it asks the
server for a reply channel per connection (or per conversation) with a handler, and the
server calls that handler, in order, with each message that arrives there. Events go out
through ``host.send_event``; when it names the connection, the server stamps
``reply_channel`` and a per-connection ``order`` and keeps *connection affinity*: every
event of that connection is consumed, in order, by the one worker that took its first
event. If that worker goes away, the server calls the handler
with ``{"type": "telephonist.connection.abort", "reason": ...}`` within a bounded time,
and the interface ends the connection the protocol's way.

*Single-event connections* skip affinity. Most HTTP requests are one message (a body
that fits the first chunk): binding a worker to them, and releasing it, would be two
control messages on the layer for each event that does the work. An interface that knows
an event is a connection's last says so, ``send_event(..., last=True)``; when that is
also the connection's first event, the server sends it to ``channel`` with ``reply_channel``
and ``order`` 0 and marks it so that the worker taking it binds nothing: no bind, no
heartbeats, no release. The price: no ``telephonist.connection.abort`` if that worker
dies, so the interface must bound its wait for replies itself (HTTP: ``response_timeout``,
then 504). Should the interface still send something for that connection (HTTP's
``http.disconnect`` for a client gone before its response), it goes the same way, to its
shared channel with the next ``order``: with several workers, not necessarily to the one
running the first event. ``last=True`` on a later event of a connection changes nothing:
its worker is bound and stays so until ``close_reply_channel``.

Overload is answered at the edge: ``send_event`` raises ``ChannelFull`` (already counted)
and the interface gives its protocol's own answer (HTTP 503, WebSocket 1013, SMTP 451,
Slack non-2xx, IRC: stop reading until the layer takes events again).

Two rules keep affinity exact (docs/writing-an-interface.md): call
``send_event`` for one connection one at a time (await each; the order of the calls is
the order of consumption), and send a connection's last event before
``close_reply_channel`` (the release that lets its worker drop the connection's state
follows that event).
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict

from ..core.base import BaseChannelLayer
from ..core.codec import Content

__all__ = [
    "ABORT",
    "Interface",
    "InterfaceConfig",
    "InterfaceHost",
    "ReplyHandler",
]

ABORT = "telephonist.connection.abort"
"""Message type the server hands a reply handler when the connection's worker is gone."""

ReplyHandler = Callable[[Content], Awaitable[None] | None]
"""A reply channel's handler: a coroutine function, or a plain function that returns
``None`` having done everything it had to (it never waits). A plain one may be called
right where the layer delivers the message, with no task woken for it: a broadcast to
a process's 1,000 WebSockets is then one pass over their sockets
(``telephonist.server.replies``)."""


class InterfaceConfig(BaseModel):
    """Base of every interface's typed settings. Unknown keys are errors, so a typo in
    ``telephonist.toml`` fails at start-up naming the key instead of being ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Serve this interface; false keeps its settings but does not start it.
    enabled: bool = True


class InterfaceHost(Protocol):
    """What the interface server offers an interface (``Interface.host``)."""

    @property
    def layer(self) -> BaseChannelLayer: ...

    async def open_reply_channel(
        self, handler: ReplyHandler, prefix: str = "", *, rebind: bool = False
    ) -> str:
        """A new process-specific channel; each message arriving on it is passed to
        ``handler``, one at a time, in arrival order. ``prefix`` is a readable label
        (for example ``"ws"``) that appears in the channel name.

        ``rebind=True`` makes it a *conversation* that outlives its worker (an IRC or
        Slack channel: nobody on the other side can reconnect it). When its worker
        dies it is not aborted: its next event binds another worker, and the channel
        stays open, so group messages sent to it meanwhile still arrive."""
        ...

    def close_reply_channel(self, channel: str) -> None:
        """Stop dispatching to ``channel`` and end its affinity binding; later messages
        for it are dropped and counted ("orphaned")."""
        ...

    async def send_event(
        self, channel: str, message: Content, *, connection: str | None = None, last: bool = False
    ) -> None:
        """Send a protocol event to the workers routing ``channel``.

        With ``connection`` (the connection's reply channel) the server adds
        ``reply_channel`` and ``order`` and keeps affinity. ``last=True`` on the
        connection's first event makes it a single-event connection: no affinity, and no
        abort if its worker dies (see the module docstring). Raises ``ChannelFull`` and
        ``MessageTooLarge`` for the interface to answer in its protocol."""
        ...

    async def send_events(
        self, events: Sequence[tuple[str, Content, str]]
    ) -> list[Exception | None]:
        """Send several connections' events (channel, message, connection), in order, as
        one batch: over Redis one round trip for all of them instead of one each. It may
        take only a leading part of ``events`` (possibly none: a connection not yet bound
        to a worker stops it); it returns one outcome per event it took, ``None`` (sent)
        or the ``ChannelFull`` that refused it, and a refused event's later events of the
        same connection are refused too. The caller sends what was not taken, and retries
        what was refused, with :meth:`send_event`."""
        ...

    def count(self, name: str, n: int = 1) -> None:
        """Increment an interface counter (shown by ``telephonist status``)."""
        ...


class Interface(abc.ABC):
    """Base class of interface plugins.

    Subclasses set ``name`` and ``config_model`` and implement ``start`` and ``stop``.
    ``uses_twisted = True`` asks the server to install Twisted's asyncio reactor on the
    shared loop before ``start``.
    """

    name: ClassVar[str]
    config_model: ClassVar[type[InterfaceConfig]] = InterfaceConfig
    uses_twisted: ClassVar[bool] = False
    #: Channels this interface sends events on, for ``telephonist interfaces`` and docs.
    event_channels: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: InterfaceConfig, host: InterfaceHost) -> None:
        self.config = config
        self.host = host
        self.log = logging.getLogger(f"telephonist.interfaces.{self.name}")

    @abc.abstractmethod
    async def start(self) -> None:
        """Bind, listen or connect. Returns once the interface serves."""

    @abc.abstractmethod
    async def stop(self, drain_timeout: float) -> None:
        """Stop accepting new work, let work in flight finish for at most
        ``drain_timeout`` seconds, then say the protocol's goodbye to what is left."""

    @classmethod
    def idle_reason(cls, config: InterfaceConfig) -> str | None:
        """Why this enabled configuration leaves the interface nothing to do (IRC without
        a network), or ``None``. An idle interface is not started: start-up reports it
        as ``disabled: <reason>`` instead of an endpoint it does not have."""
        return None

    def endpoints(self) -> list[str]:
        """Where the interface listens or what it is connected to, for start-up output."""
        return []

    def status(self) -> dict[str, Any]:
        """Live state (connections, ...) for ``telephonist status``."""
        return {}

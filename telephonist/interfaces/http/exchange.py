"""One request/response exchange: what HTTP/1.1 and HTTP/2 share in driving a reply.

Theory of operation
-------------------
The host calls ``Exchange.on_reply`` with each message that arrives on the request's
reply channel, in order. What a message means (held, written, refused, the server
answering instead) is decided by the sans-I/O ``Reply`` (``reply.py``); this class
runs it on the event loop: it owns the ``response_timeout`` timer (armed once the
request is on the layer, stopped when the head leaves, armed again while trailers are
due), turns the machine's ``Fail`` into a counter, a log line and ``fail``, and ends
the exchange exactly once (``finish``: ``done`` resolves and the connection decides
what comes next). Framing and writing are the protocol's: ``H1Exchange``
(``h1_exchange.py``, h11 over a socket) and ``H2Stream`` (``h2_stream.py``, h2 frames
on a stream) implement the hooks at the end.

Every exchange has its own reply channel, so a consumer answering after its 504 writes
to a closed channel (counted as orphaned by the host), never into the next response.
An exchange knows its connection only through its link (``ExchangeLink`` plus what
the protocol adds), not the connection's class, the server or the host: the same
exchange serves a request a mounted app answers in-process (``asgi.py``), which has no
reply channel at all.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import h11

from .h2_head import H2Request
from .reply import DONE, TRAILING, Fail, Reply, Send, Trailers

__all__ = ["Exchange", "ExchangeLink", "Request"]

H = TypeVar("H")


class ExchangeLink(Protocol):
    """What every exchange needs of its connection."""

    @property
    def accepting(self) -> bool:
        """False once the server is shutting down (this response is the last one)."""
        ...

    def report(self, counter: str, reason: str) -> None:
        """Count a violation and log it."""
        ...

    def close_reply_channel(self, channel: str) -> None: ...


#: What the access log and the scope need of a request: h11's, or HTTP/2's with its names.
Request = h11.Request | H2Request


class Exchange(Generic[H]):
    """The state of one request's response (see the module docstring); ``H`` is the
    protocol's response head."""

    #: Whether the protocol offers ``http.response.trailers``.
    TRAILERS: ClassVar[bool] = False

    def __init__(self, link: ExchangeLink, request: Request) -> None:
        self.link = link
        self.request = request
        self.is_head = request.method == b"HEAD"
        self.reply: Reply[H] = Reply(self._make_head, is_head=self.is_head, trailers=self.TRAILERS)
        self.reply_channel = ""
        self.completed = False  # response written to its end
        self.finished = False
        self.delivered = False  # the first event is on the layer
        self.single = False  # the request went as one event (no further sends for it)
        self.client_gone = False
        self.request_bytes = 0
        self.body_waited = 0.0  # seconds spent waiting for body bytes (body_min_rate)
        self.client: str | int = ""  # for the access log: the scope's client (proxy-aware)
        self.body_bytes = 0  # for the access log: body bytes written
        self.started_at = time.monotonic()
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.on_finish: Callable[[Any], None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timeout = 60.0  # response_timeout, for the trailers too

    # -- the response timer -------------------------------------------------------------

    def start_response_timer(self, seconds: float) -> None:
        self._timeout = seconds
        self._timer = asyncio.get_running_loop().call_later(seconds, self._timed_out)

    def _timed_out(self) -> None:
        self._timer = None
        if not self.finished:
            step = self.reply.timed_out()
            if step is not None:
                self._fail(step)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # -- replies ----------------------------------------------------------------------

    async def on_reply(self, message: dict[str, Any]) -> None:
        if self.finished:
            return
        step = self.reply.receive(message)
        if step is None:
            return
        if type(step) is Send:
            head, body, end = step
            if head is not None:
                self._cancel_timer()  # the client has something: no 504 any more
            await self._send(head, body, end)
            if not end and self.reply.state is TRAILING and not self.finished:
                # The last body is out; the trailers end the response, in time.
                self.start_response_timer(self._timeout)
        elif type(step) is Fail:
            self._fail(step)
        else:
            assert type(step) is Trailers
            self._cancel_timer()
            self._send_trailers(step.headers)

    def _fail(self, step: Fail) -> None:
        self.link.report(step.counter, step.reason)
        self.fail(step.status)

    # -- ending -----------------------------------------------------------------------

    def is_over(self) -> bool:
        return self.finished

    def fail(self, status: int, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        """Answer ``status`` if nothing was sent yet, else cut the response short (the
        client sees it incomplete and cannot take it as whole); then finish."""
        if self.finished:
            return
        if self._can_answer() and self.reply.answer(status):
            self._answer(status, headers)
        else:
            self.reply.end()
            self._cut()
        self.finish()

    def _complete(self) -> None:
        self.completed = True
        self.finish()
        if self.single:
            # Nothing more will be sent for it, and nothing more is wanted from it:
            # closing here, inside the handler, lets the channel's runner end now
            # instead of parking on the layer until the connection retires it.
            self.link.close_reply_channel(self.reply_channel)

    def finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        if self.reply.state is not DONE:
            self.reply.end()
        self._cancel_timer()
        self._ended()
        if self.on_finish is not None:
            self.on_finish(self)
        if not self.done.done():
            self.done.set_result(None)

    # -- the protocol's part ------------------------------------------------------------

    def _make_head(self, message: dict[str, Any]) -> H:
        """The head of ``http.response.start`` (``ReplyError`` if malformed)."""
        raise NotImplementedError

    def _send(self, head: H | None, body: bytes, end: bool) -> Awaitable[None]:
        """Write ``head`` if given, then ``body``; ``end``: the response ends here
        (``_complete`` once written). The awaitable returns once the next reply message
        may be taken (the client keeps up)."""
        raise NotImplementedError

    def _send_trailers(self, headers: list[tuple[bytes, bytes]]) -> None:
        """Write the trailers, which end the response (only where ``TRAILERS``)."""
        raise NotImplementedError

    def _can_answer(self) -> bool:
        """Whether the protocol can still carry an answer of the server's."""
        raise NotImplementedError

    def _answer(self, status: int, headers: list[tuple[bytes, bytes]] | None) -> None:
        """Write the server's short plain-text answer ``status``."""
        raise NotImplementedError

    def _cut(self) -> None:
        """End a response already started, so the client sees it cut short."""
        raise NotImplementedError

    def _ended(self) -> None:
        """The exchange is over: stop waiting for request input (if the exchange does)."""

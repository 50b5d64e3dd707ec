"""The reply side of one HTTP request, without I/O: which of the consumer's messages go
out, in what order and shape, and when the server answers in its place.

Theory of operation
-------------------
``Reply`` takes the messages of a request's reply channel one at a time
(``receive``) and says what to put on the wire; it writes nothing, keeps no time and
knows neither h11 nor h2: the HTTP/1.1 exchange (``h1_exchange.py``) and the HTTP/2
stream (``h2_stream.py``) drive it and frame what it hands out. Its states, and what
each message does in each (anything else is ``Fail(500, "bad_reply", ...)``)::

    state      http.response.start   http.response.body        http.response.trailers
    WAITING    -> HELD               (500: before the start)    (500: before the last body)
    HELD       (500: twice)          Send(head, ...) -> SENDING / TRAILING / DONE
    SENDING    (500: twice)          Send(None, ...) -> SENDING / TRAILING / DONE
    TRAILING   (500: twice)          (500: after the last body) more -> TRAILING; last:
                                                                 Trailers -> DONE
    DONE       ignored               ignored                    ignored

The head is *held* from the start until the first body message, so that head and first
bytes leave together and ``response_timeout`` (``timed_out``: 504 while WAITING or
HELD) holds until the client has something. ``TRAILING`` exists only where trailers
are offered (HTTP/2, a start with ``trailers=True``): the last body does not end the
response, its trailers do, and they too get ``response_timeout`` to come (500, the
stream reset). A host ``ABORT`` (the request's worker is gone) is ``Fail(502)`` in any
state but DONE. Messages after the end are ignored here: the host closes the reply
channel once the exchange is over and counts what still arrives as orphaned.

The server ends a reply itself with ``answer`` (a 408, 413, 503, 504...: the status
goes out if no head did, else the response is cut short) or ``end`` (the client is
gone, the framing broke); either is DONE. Validation is ``response.py``'s, shared by
both protocols; how a start becomes a head is the driver's (``make_head``: h11's
``Response`` with ``Connection: close`` when due, or HTTP/2's header list).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any, Generic, NamedTuple, NoReturn, TypeVar

from ...spec.http import RESPONSE_BODY, RESPONSE_START, RESPONSE_TRAILERS
from ..base import ABORT
from .response import ReplyError, header_pairs, parse_body

__all__ = ["DONE", "HELD", "SENDING", "TRAILING", "WAITING", "Fail", "Reply", "Send", "State",
           "Trailers"]  # fmt: skip

H = TypeVar("H")


class State(Enum):
    WAITING = "waiting"  # no http.response.start yet
    HELD = "held"  # the start is in, its head waits for the first body
    SENDING = "sending"  # the head is out, the body streams
    TRAILING = "trailing"  # the last body is out, the trailers are to come
    DONE = "done"  # nothing more goes out


# Module-level names: compared on every message, and a global is cheaper than an Enum
# attribute lookup.
WAITING, HELD, SENDING, TRAILING, DONE = State


class Send(NamedTuple, Generic[H]):
    """Write ``head`` (the held start, if not None) then ``body``; ``end``: the response
    ends with it (else more body or the trailers follow)."""

    head: H | None
    body: bytes
    end: bool


class Trailers(NamedTuple):
    """Write the trailer headers; they end the response."""

    headers: list[tuple[bytes, bytes]]


class Fail(NamedTuple):
    """Count and log ``counter``/``reason``, then end the reply with ``status``
    (``answer``)."""

    status: int
    counter: str
    reason: str


def _spent(message: dict[str, Any]) -> NoReturn:
    raise AssertionError("a start after the start was taken")  # receive() refuses it first


class Reply(Generic[H]):
    """One request's reply (see the module docstring). ``make_head`` turns a start into
    the driver's head, or raises ``ReplyError``; ``is_head``: a HEAD request (bodies are
    dropped); ``trailers``: the protocol offers ``http.response.trailers``."""

    __slots__ = ("_head", "_held", "_is_head", "_make_head", "_offer_trailers", "_trailers",
                 "_trailing", "started", "state", "status")  # fmt: skip

    def __init__(
        self, make_head: Callable[[dict[str, Any]], H], *, is_head: bool, trailers: bool = False
    ) -> None:
        self.state = WAITING
        #: A head went out: the consumer's or the server's own answer.
        self.started = False
        #: The status that went out (0: none yet), for the access log.
        self.status = 0
        self._make_head = make_head
        self._is_head = is_head
        self._offer_trailers = trailers
        self._head: H | None = None
        self._held = 0  # the held head's status
        self._trailers = False  # this response announced trailers
        self._trailing: list[tuple[bytes, bytes]] = []

    def receive(self, message: dict[str, Any]) -> Send[H] | Trailers | Fail | None:
        """What to do with the next message of the reply channel (None: nothing now)."""
        state = self.state
        if state is DONE:
            return None
        kind = message.get("type")
        try:
            if kind == RESPONSE_BODY:
                if state is TRAILING:
                    raise ReplyError("http.response.body after the last body")
                body, more = parse_body(message)
                head = self._head
                if head is not None:
                    self._head = None
                    self.started = True
                    self.status = self._held
                elif state is not SENDING:
                    raise ReplyError("http.response.body before http.response.start")
                if self._is_head:
                    body = b""
                if more:
                    self.state = SENDING
                    return Send(head, body, False)
                if self._trailers:
                    self.state = TRAILING
                    return Send(head, body, False)
                self.state = DONE
                return Send(head, body, True)
            if kind == RESPONSE_START:
                if state is not WAITING:
                    raise ReplyError("http.response.start sent twice")
                self._head = self._make_head(message)
                # Taken once: let go of the driver's method, which would otherwise keep
                # the driver and this machine in a reference cycle (freed only by the
                # garbage collector, not when the exchange is dropped).
                self._make_head = _spent
                self._held = message["status"]  # valid: make_head checked it
                if self._offer_trailers:
                    self._trailers = bool(message.get("trailers", False))
                self.state = HELD
                return None
            if kind == RESPONSE_TRAILERS and self._offer_trailers:
                return self._trailer(message)
            if kind == ABORT:
                return Fail(502, "aborted", f"worker gone: {message.get('reason')}")
            raise ReplyError(f"unexpected reply type {kind!r}")
        except ReplyError as exc:
            return Fail(500, "bad_reply", str(exc))

    def _trailer(self, message: dict[str, Any]) -> Trailers | None:
        if self.state is not TRAILING:
            raise ReplyError("http.response.trailers before the last body or without trailers=True")
        self._trailing += header_pairs(message.get("headers") or [])
        if message.get("more_trailers", False):
            return None
        self.state = DONE
        return Trailers(self._trailing)

    def timed_out(self) -> Fail | None:
        """The driver's ``response_timeout`` ran out (it runs while WAITING, HELD and
        TRAILING)."""
        state = self.state
        if state is WAITING or state is HELD:
            return Fail(504, "response_timeout", "consumer sent no response in time")
        if state is TRAILING:
            # Started: the response is cut short.
            return Fail(500, "response_timeout", "consumer sent no trailers in time")
        return None

    @property
    def timing(self) -> bool:
        """Whether ``response_timeout`` runs now (no head out yet, or trailers due)."""
        state = self.state
        return state is WAITING or state is HELD or state is TRAILING

    def answer(self, status: int) -> bool:
        """The server ends the reply with ``status``: True if nothing went out yet (the
        driver writes the short answer), False if the response is to be cut short."""
        self.state = DONE
        self._head = None
        self._make_head = _spent
        if self.started:
            return False
        self.started = True
        self.status = status
        return True

    def head_refused(self) -> None:
        """The driver could not write the head it was handed: nothing went out, so the
        server's answer still can (``answer``)."""
        self.started = False

    def end(self) -> None:
        """The reply ends without an answer (the client is gone, the framing broke)."""
        self.state = DONE
        self._head = None
        self._make_head = _spent

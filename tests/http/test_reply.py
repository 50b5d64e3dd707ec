"""The reply state machine (``reply.Reply``) alone, without sockets, loop or clock: for
any sequence of reply messages, time-outs and server answers, what it puts on the wire
is a well-formed response or a server answer, never both, never twice, nothing after
the end; and each refusal is the documented counter and reason."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telephonist.interfaces.base import ABORT
from telephonist.interfaces.http.reply import (
    DONE,
    HELD,
    SENDING,
    TRAILING,
    WAITING,
    Fail,
    Reply,
    Send,
    Trailers,
)
from telephonist.interfaces.http.response import parse_start
from telephonist.spec.http import RESPONSE_BODY, RESPONSE_START, RESPONSE_TRAILERS


def make_head(message: dict[str, Any]) -> int:
    """A head as a driver makes one: validated by ``parse_start`` (stands for h11's
    ``Response`` or HTTP/2's header list)."""
    return parse_start(message).status_code


_STATUS = st.one_of(st.integers(200, 599), st.sampled_from([100, 600, "200", None, True]))
_HEADERS = st.one_of(
    st.just([]),
    st.just([[b"content-type", b"text/plain"]]),
    st.just([[b"bad name", b"x"]]),  # refused: not a token
    st.just([[b"x-a", b"a\r\nb"]]),  # refused: response splitting
    st.just("not a list"),
)
_MESSAGES = st.one_of(
    st.builds(
        lambda status, headers, trailers: {
            "type": RESPONSE_START,
            "status": status,
            "headers": headers,
            "trailers": trailers,
        },
        _STATUS,
        _HEADERS,
        st.booleans(),
    ),
    st.builds(
        lambda body, more: {"type": RESPONSE_BODY, "body": body, "more_body": more},
        st.one_of(st.binary(max_size=8), st.just("text")),
        st.booleans(),
    ),
    st.builds(
        lambda headers, more: {
            "type": RESPONSE_TRAILERS,
            "headers": headers,
            "more_trailers": more,
        },
        st.sampled_from([[], [[b"grpc-status", b"0"]], [[b"bad name", b"x"]]]),
        st.booleans(),
    ),
    st.just({"type": ABORT, "reason": "gone"}),
    st.just({"type": "http.response.nonsense"}),
)
_OPS = st.lists(
    st.one_of(
        _MESSAGES.map(lambda m: ("message", m)),
        st.just(("timeout", None)),
        st.sampled_from([("answer", 503), ("answer", 408), ("end", None)]),
    ),
    max_size=14,
)


class Wire:
    """What a driver would have written, checked as it goes."""

    def __init__(self) -> None:
        self.heads: list[int] = []  # statuses of heads written (the consumer's or an answer)
        self.body = b""
        self.trailers: list[tuple[bytes, bytes]] | None = None
        self.ended = False  # the response ended (or was cut short)
        self.counted: list[str] = []

    def send(self, step: Send[int], start_status: int | None) -> None:
        assert not self.ended, "bytes after the end"
        if step.head is not None:
            assert not self.heads, "two heads on the wire"
            assert step.head == start_status
            self.heads.append(step.head)
        assert self.heads, "body before any head"
        self.body += step.body
        self.ended = step.end

    def fail(self, reply: Reply[int], step: Fail) -> None:
        self.counted.append(step.counter)
        self.server_ends(reply, step.status)

    def server_ends(self, reply: Reply[int], status: int) -> None:
        if self.ended:
            return  # a driver's fail() after the exchange finished does nothing
        answered = reply.answer(status)
        assert answered == (not self.heads)
        if answered:
            self.heads.append(status)
        self.ended = True


@settings(max_examples=400, deadline=None)
@given(ops=_OPS, is_head=st.booleans(), offer_trailers=st.booleans())
def test_any_sequence_gives_a_consistent_wire(
    ops: list[tuple[str, Any]], is_head: bool, offer_trailers: bool
) -> None:
    reply: Reply[int] = Reply(make_head, is_head=is_head, trailers=offer_trailers)
    wire = Wire()
    start_status: int | None = None  # the status of the start taken, if any
    announced = False  # that start announced trailers
    for op, arg in ops:
        before = reply.state
        if op == "timeout":
            step = reply.timed_out()
            if before in (WAITING, HELD):
                assert step == Fail(504, "response_timeout", "consumer sent no response in time")
            elif before is TRAILING:
                assert step == Fail(500, "response_timeout", "consumer sent no trailers in time")
            else:
                assert step is None
            assert reply.timing == (before in (WAITING, HELD, TRAILING))
            if step is not None:
                wire.fail(reply, step)
        elif op == "answer":
            wire.server_ends(reply, arg)
        elif op == "end":
            reply.end()
            wire.ended = True
        else:
            message = arg
            step = reply.receive(message)
            kind = message["type"]
            if before is DONE:
                # Nothing goes out after the end; the host counts what still comes as
                # orphaned once the exchange closes the reply channel.
                assert step is None
                assert reply.state is DONE
                continue
            if isinstance(step, Fail):
                assert step.counter in ("bad_reply", "aborted")
                assert step.status == (502 if kind == ABORT else 500)
                if kind == RESPONSE_START and before is not WAITING:
                    assert step.reason == "http.response.start sent twice"
                if kind == RESPONSE_BODY and before is TRAILING:
                    assert step.reason == "http.response.body after the last body"
                if kind == RESPONSE_TRAILERS and not offer_trailers:
                    assert step.reason == f"unexpected reply type {kind!r}"
                wire.fail(reply, step)
            elif isinstance(step, Send):
                assert kind == RESPONSE_BODY
                assert before in (HELD, SENDING)
                assert (step.head is not None) == (before is HELD)
                if is_head:
                    assert step.body == b""
                else:
                    assert step.body == message["body"]
                wire.send(step, start_status)
                if message["more_body"]:
                    assert reply.state is SENDING
                    assert not step.end
                elif announced:
                    assert reply.state is TRAILING
                    assert not step.end
                else:
                    assert reply.state is DONE
                    assert step.end
            elif isinstance(step, Trailers):
                assert kind == RESPONSE_TRAILERS
                assert before is TRAILING
                assert announced
                assert not message["more_trailers"]
                assert wire.heads
                assert not wire.ended
                wire.trailers = step.headers
                wire.ended = True
                assert reply.state is DONE
            else:
                assert step is None
                if kind == RESPONSE_START:
                    assert before is WAITING
                    assert reply.state is HELD
                    start_status = message["status"]
                    announced = offer_trailers and bool(message["trailers"])
                else:  # more trailers to come
                    assert kind == RESPONSE_TRAILERS
                    assert reply.state is TRAILING
        assert reply.started == bool(wire.heads)
        assert reply.status == (wire.heads[0] if wire.heads else 0)
        if wire.ended:
            assert reply.state is DONE


def _ok(reply: Reply[int], *messages: dict[str, Any]) -> list[Any]:
    return [reply.receive(m) for m in messages]


START = {"type": RESPONSE_START, "status": 200, "headers": []}


@pytest.mark.parametrize(
    ("messages", "reason"),
    [
        ([START, START], "http.response.start sent twice"),
        ([{"type": RESPONSE_BODY, "body": b"x"}], "http.response.body before http.response.start"),
        ([{"type": RESPONSE_BODY, "body": "x"}], "body must be bytes, got str"),
        ([{"type": "nope"}], "unexpected reply type 'nope'"),
        (
            [START, {"type": RESPONSE_TRAILERS}],
            "http.response.trailers before the last body or without trailers=True",
        ),
    ],
)
def test_refusals_name_the_fault(messages: list[dict[str, Any]], reason: str) -> None:
    reply: Reply[int] = Reply(make_head, is_head=False, trailers=True)
    *_, last = _ok(reply, *messages)
    assert last == Fail(500, "bad_reply", reason)


def test_trailers_end_the_response_and_a_body_after_the_last_is_refused() -> None:
    reply: Reply[int] = Reply(make_head, is_head=False, trailers=True)
    start = {**START, "trailers": True}
    assert _ok(reply, start, {"type": RESPONSE_BODY, "body": b"a"}) == [
        None,
        Send(200, b"a", False),
    ]
    assert reply.state is TRAILING
    assert reply.timing
    assert reply.receive({"type": RESPONSE_BODY, "body": b"b"}) == Fail(
        500, "bad_reply", "http.response.body after the last body"
    )
    reply = Reply(make_head, is_head=False, trailers=True)
    steps = _ok(
        reply,
        start,
        {"type": RESPONSE_BODY, "body": b"a"},
        {"type": RESPONSE_TRAILERS, "headers": [[b"a", b"1"]], "more_trailers": True},
        {"type": RESPONSE_TRAILERS, "headers": [[b"b", b"2"]]},
    )
    assert steps[2:] == [None, Trailers([(b"a", b"1"), (b"b", b"2")])]
    assert reply.state is DONE
    assert not reply.timing


def test_http1_ignores_the_trailers_flag() -> None:
    reply: Reply[int] = Reply(make_head, is_head=False)
    steps = _ok(reply, {**START, "trailers": True}, {"type": RESPONSE_BODY, "body": b"a"})
    assert steps == [None, Send(200, b"a", True)]


def test_an_answer_after_the_head_cuts_short() -> None:
    reply: Reply[int] = Reply(make_head, is_head=False)
    _ok(reply, START, {"type": RESPONSE_BODY, "body": b"a", "more_body": True})
    assert reply.receive({"type": ABORT, "reason": "x"}) == Fail(502, "aborted", "worker gone: x")
    assert not reply.answer(502)  # cut short: the client has a head already
    assert reply.status == 200


def test_a_refused_head_leaves_room_for_the_answer() -> None:
    reply: Reply[int] = Reply(make_head, is_head=False, trailers=True)
    _ok(reply, START, {"type": RESPONSE_BODY, "body": b""})
    reply.head_refused()
    assert reply.answer(500)
    assert reply.status == 500

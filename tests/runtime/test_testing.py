"""telephonist.testing: the same helpers from plain and async tests, no sockets, no sleeps."""

from __future__ import annotations

import pytest

from telephonist.consumers import Channel, ConsumeLater, Group, Message
from telephonist.routing import route
from telephonist.testing import AsyncConsumerTester, ConsumerTester
from telephonist.worker.dispatch import Outcome


def echo(message: Message) -> None:
    assert message.reply_channel is not None
    message.reply_channel.send({"type": "websocket.send", "text": message["text"]})
    message.reply_channel.send({"type": "websocket.send", "text": message["text"].upper()})


async def forward(message: Message) -> None:
    # Passing the reply channel along lets the next consumer answer the client.
    await Channel("audit.log").send(
        {"seen": message["text"], "reply_channel": message["reply_channel"]}
    )


def audit(message: Message) -> None:
    assert message.reply_channel is not None
    message.reply_channel.send({"audited": message["seen"]})


attempts: list[int] = []


def later_once(message: Message) -> None:
    attempts.append(1)
    if "__consume_later__" not in message:
        raise ConsumeLater


routing = [
    route("websocket.receive", echo),
    route("slack.message", forward),
    route("audit.log", audit),
    route("email.receive", later_once),
]


def test_sync_usage() -> None:
    with ConsumerTester(routing) as t:
        assert t.send("websocket.receive", {"text": "hi"}) is Outcome.CONSUMED
        reply = t.assert_reply(type="websocket.send", text="hi")
        assert reply == {"type": "websocket.send", "text": "hi"}
        assert t.get_next_reply() == {"type": "websocket.send", "text": "HI"}
        t.assert_no_reply()
        assert t.get_next_reply() is None
        t.send("websocket.receive", {"text": "a"})
        assert [r["text"] for r in t.replies()] == ["a", "A"]
        assert t.outcomes == [Outcome.CONSUMED, Outcome.CONSUMED]


async def test_async_usage_through_the_same_class() -> None:
    async with ConsumerTester(routing) as t:
        assert isinstance(t, AsyncConsumerTester)
        assert await t.send("websocket.receive", {"text": "hi"}) is Outcome.CONSUMED
        await t.assert_reply({"text": "hi"})
        await t.assert_reply(text="HI")
        await t.assert_no_reply()


async def test_blocking_face_refuses_to_run_inside_a_running_loop() -> None:
    t = ConsumerTester(routing)
    with pytest.raises(RuntimeError, match="async with ConsumerTester"):
        t.send("websocket.receive", {"text": "x"})
    await t.engine.close()


def test_assertion_messages_say_what_was_expected() -> None:
    with ConsumerTester(routing) as t:
        with pytest.raises(AssertionError, match="got none"):
            t.assert_reply(text="anything")
        t.send("websocket.receive", {"text": "hi"})
        with pytest.raises(AssertionError, match="does not match"):
            t.assert_reply(text="bye")
        with pytest.raises(AssertionError, match="expected no reply"):
            t.assert_no_reply()


def test_send_and_consume_fails_when_nothing_consumed() -> None:
    with ConsumerTester(routing) as t:
        with pytest.raises(AssertionError, match="was not consumed: NO_ROUTE"):
            t.send_and_consume("http.request", {"path": "/"})
        # ...but the protocol's answer was still sent, as in production.
        assert t.assert_reply(type="http.response.start")["status"] == 404


def test_reply_channels_type_default_and_other_connections() -> None:
    with ConsumerTester(routing) as t:
        other = t.new_reply_channel()
        assert other != t.reply_channel
        t.send("websocket.receive", {"text": "x"}, reply=other)
        t.assert_no_reply()
        assert len(t.replies(other)) == 2
        seen: list[dict[str, object]] = []
        t.engine.dispatcher.consumer_started.connect(
            lambda **kw: seen.append(kw["message"].content)
        )
        t.send("email.receive", {"__consume_later__": 1}, reply=False)
        assert seen == [{"type": "email.receive", "__consume_later__": 1}]


def test_chained_consumers_and_consume_later_with_consume() -> None:
    with ConsumerTester(routing) as t:
        t.send_and_consume("slack.message", {"text": "hello"})
        assert t.get_next_message("audit.log") == {
            "seen": "hello",
            "reply_channel": t.reply_channel,
        }
        t.send("slack.message", {"text": "again"})
        t.assert_no_reply()
        assert t.consume("audit.log") is Outcome.CONSUMED
        t.assert_reply(audited="again")
        attempts.clear()
        assert t.send("email.receive", {"x": 1}) is Outcome.CONSUME_LATER
        assert t.consume("email.receive") is Outcome.CONSUMED
        assert attempts == [1, 1]
        with pytest.raises(AssertionError, match=r"no message waiting on 'email\.receive'"):
            t.consume("email.receive")


def test_group_helpers_and_channel_in_the_test_body() -> None:
    with ConsumerTester(routing) as t:
        t.group_add("room.a")
        assert t.group_channels("room.a") == [t.reply_channel]
        t.group_send("room.a", {"text": "to the room"})
        t.assert_reply(text="to the room")
        # The tester's layer is current in the test body: scripts' Channel/Group work.
        Group("room.a").send({"text": "from the test"})
        Channel(t.reply_channel).send({"text": "direct"})
        assert [r["text"] for r in t.replies()] == ["from the test", "direct"]
        t.group_discard("room.a")
        assert t.group_channels("room.a") == []


async def test_async_group_helpers_and_channel_in_the_test_body() -> None:
    async with AsyncConsumerTester(routing) as t:
        await t.group_add("room.b")
        await Group("room.b").send({"text": "awaited"})
        await t.assert_reply(text="awaited")
        assert await t.group_channels("room.b") == [t.reply_channel]

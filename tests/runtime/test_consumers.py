"""Consumers: Message, Channel/Group from every kind of code, and class-based consumers."""

from __future__ import annotations

import asyncio
import functools
import importlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from telephonist.consumers import (
    AsyncConsumer,
    AsyncHttpConsumer,
    AsyncJsonWebsocketConsumer,
    AsyncWebsocketConsumer,
    Channel,
    Group,
    HttpConsumer,
    JsonWebsocketConsumer,
    Message,
    SyncConsumer,
    WebsocketConsumer,
    base,
    context,
    handler_name,
)
from telephonist.consumers.base import is_async_consumer
from telephonist.consumers.context import set_default_layer
from telephonist.core import sync
from telephonist.core.memory import InMemoryChannelLayer
from telephonist.core.sync import release_sync_layer
from telephonist.routing import register_protocol_policy, route, route_class
from telephonist.testing import AsyncConsumerTester, ConsumerTester
from telephonist.worker.dispatch import Outcome

# -- Message, Channel, Group --------------------------------------------------------------


def test_message_reads_its_content() -> None:
    layer = InMemoryChannelLayer()
    message = Message(
        {"type": "websocket.receive", "text": "hi", "reply_channel": "ws.r!1"},
        "websocket.receive",
        layer,
    )
    assert message["text"] == "hi"
    assert message.get("missing", 3) == 3
    assert "text" in message
    assert message.type == "websocket.receive"
    assert message.channel == Channel("websocket.receive")
    assert message.reply_channel == Channel("ws.r!1")
    assert message.channel_layer is layer
    assert set(message) == {"type", "text", "reply_channel"}
    assert Message({}, "a.b", layer).reply_channel is None


def test_names_are_validated_at_once() -> None:
    with pytest.raises(TypeError, match="Channel name must be"):
        Channel("bad name")
    with pytest.raises(TypeError, match="Group name must be"):
        Group("bad!name")


def test_without_any_layer_the_error_says_what_to_do() -> None:
    with pytest.raises(RuntimeError, match="set_default_layer"):
        Channel("a.b").send({})


@pytest.fixture
def default_layer() -> Iterator[InMemoryChannelLayer]:
    layer = InMemoryChannelLayer()
    set_default_layer(layer)
    yield layer
    set_default_layer(None)
    release_sync_layer(layer)


def test_script_usage_blocks_through_the_default_layer(default_layer: InMemoryChannelLayer) -> None:
    Group("g").add("inbox.x")
    Group("g").send({"text": "to the group"})
    Channel("inbox.x").send({"text": "direct"})
    Group("g").discard("inbox.x")
    Group("g").send({"text": "nobody"})
    assert default_layer.depths() == {"inbox.x": 2}


class SubclassedLayer(InMemoryChannelLayer):
    """Not the exact in-memory type: sends from threads go through a loop."""


@pytest.mark.parametrize("layer_class", [InMemoryChannelLayer, SubclassedLayer])
def test_plain_thread_with_an_explicit_layer(layer_class: type[InMemoryChannelLayer]) -> None:
    layer = layer_class()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            Channel("inbox.y", layer).send({"n": 1})
        except BaseException as exc:  # reported to the test below
            errors.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(10)
    # The exact in-memory layer is used in the thread itself; others need a SyncLayer.
    assert (layer in sync._facades) is (layer_class is SubclassedLayer)
    release_sync_layer(layer)
    assert errors == []
    assert layer.depths() == {"inbox.y": 1}


async def test_a_send_from_a_thread_wakes_a_receiver_on_the_loop() -> None:
    layer = InMemoryChannelLayer()
    receiver = asyncio.create_task(layer.receive("inbox.w"))
    await asyncio.sleep(0)  # let the receiver park (one loop turn, not a timed wait)
    await asyncio.to_thread(lambda: Channel("inbox.w", layer).send({"n": 2}))
    assert await asyncio.wait_for(receiver, 10) == {"n": 2}


async def test_in_async_code_the_send_is_awaited() -> None:
    layer = InMemoryChannelLayer()
    pending = Channel("inbox.z", layer).send({"n": 1})
    assert layer.depths() == {}  # nothing happens until awaited
    await pending
    assert layer.depths() == {"inbox.z": 1}


def test_is_async_consumer() -> None:
    async def a(message: Message) -> None: ...

    def s(message: Message) -> None: ...

    class CallableAsync:
        async def __call__(self, message: Message) -> None: ...

    class CallableSync:
        def __call__(self, message: Message) -> None: ...

    class Sync(SyncConsumer):
        channels = ("a.b",)

    class Async(AsyncConsumer):
        channels = ("a.b",)

    assert is_async_consumer(a)
    assert is_async_consumer(functools.partial(a))
    assert is_async_consumer(CallableAsync())
    assert is_async_consumer(Async.as_consumer())
    assert is_async_consumer(Async)
    assert not is_async_consumer(s)
    assert not is_async_consumer(functools.partial(s))
    assert not is_async_consumer(CallableSync())
    assert not is_async_consumer(Sync.as_consumer())
    assert not is_async_consumer(lambda message: None)


def test_handler_names() -> None:
    # Channels' rule: dots become underscores (and hyphens, for irc-client.*).
    assert handler_name("websocket.receive") == "websocket_receive"
    assert handler_name("chat.message_sent") == "chat_message_sent"
    assert handler_name("irc-client.receive") == "irc_client_receive"
    assert handler_name("chat_message") == "chat_message"  # Channels' older dotless style
    assert handler_name("__init__") is None
    assert handler_name("_private.x") is None
    assert handler_name("a.b c") is None


class Room(SyncConsumer):
    channels = ("room.events",)

    def chat_message(self, message: Message, **kwargs: str) -> None:
        self.reply({"text": message["text"]})


def test_types_reach_the_users_handlers_never_the_frameworks_helpers() -> None:
    with ConsumerTester([route_class(Room)]) as t:
        t.send_and_consume("room.events", {"type": "chat.message", "text": "a"})
        t.assert_reply(text="a")
        t.send_and_consume("room.events", {"type": "chat_message", "text": "b"})
        t.assert_reply(text="b")
        # A message type is data: none of these may call the helper it spells.
        for helper in ("reply", "send_to", "group.send", "group_add", "dispatch", "__init__"):
            assert t.send("room.events", {"type": helper, "text": "x"}) is Outcome.ERROR
        t.assert_no_reply()


@pytest.mark.parametrize(
    ("module", "old", "current"),
    [
        ("telephonist.consumers", "BaseConsumer", SyncConsumer),
        ("telephonist.consumers.base", "BaseConsumer", SyncConsumer),
        ("telephonist.consumers", "ConsumerBase", base._Consumer),
        ("telephonist.consumers", "consumer_context", context.consumer_context),
        ("telephonist.consumers", "get_current_layer", context.get_current_layer),
        ("telephonist.consumers", "set_default_layer", set_default_layer),
        ("telephonist.consumers", "release_sync_layer", release_sync_layer),
        ("telephonist.consumers", "is_async_consumer", is_async_consumer),
        ("telephonist.dispatch", "register_protocol_policy", register_protocol_policy),
    ],
)
def test_old_names_still_work_with_a_warning(module: str, old: str, current: object) -> None:
    with pytest.warns(DeprecationWarning, match=rf"{module}\.{old} is deprecated: use "):
        assert getattr(importlib.import_module(module), old) is current
    assert not hasattr(importlib.import_module(module), "NoSuchName")


# -- class-based consumers -----------------------------------------------------------------


class Greeter(SyncConsumer):
    channels = ("irc-client.receive", "slack.message")

    def irc_client_receive(self, message: Message, **kwargs: str) -> None:
        self.reply({"text": f"irc {message['text']} {kwargs}"})

    def slack_message(self, message: Message, **kwargs: str) -> None:
        self.send_to("log.slack", {"text": message["text"]})


class AsyncGreeter(AsyncConsumer):
    channels = ("email.receive",)

    async def email_receive(self, message: Message) -> None:
        await self.reply({"text": f"thread {threading.current_thread().name}"})


def test_class_consumer_dispatches_per_type_with_kwargs() -> None:
    routing = [route_class(Greeter, network=r"^(?P<net>\w+)$"), route_class(AsyncGreeter)]
    with ConsumerTester(routing) as t:
        t.send_and_consume("irc-client.receive", {"text": "hi", "network": "libera"})
        t.assert_reply(text="irc hi {'net': 'libera'}")
        t.send_and_consume("slack.message", {"text": "yo", "network": "ws"})
        assert t.get_next_message("log.slack") == {"text": "yo"}
        t.send_and_consume("email.receive", {})
        assert t.assert_reply()["text"] == f"thread {threading.current_thread().name}"


def test_class_consumer_without_a_handler_is_an_error(caplog: pytest.LogCaptureFixture) -> None:
    with ConsumerTester([route("irc-client.join", Greeter.as_consumer())]) as t:
        assert t.send("irc-client.join", {"type": "__init__"}) is Outcome.ERROR
    assert "Greeter has no handler for type '__init__' on channel 'irc-client.join'" in caplog.text


# -- WebSocket ---------------------------------------------------------------------------


class Echo(WebsocketConsumer):
    groups = ("broadcast",)

    def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data == "bye":
            self.send(text_data="closing", close=True)
        elif text_data is not None:
            self.send(text_data=text_data)
        else:
            self.send(bytes_data=bytes_data)


class AsyncEcho(AsyncWebsocketConsumer):
    groups = ("broadcast",)

    async def connect(self) -> None:
        await self.accept(subprotocol="chat")

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await self.send(text_data=f"{self.kwargs['room']}: {text_data}")


class JsonEcho(JsonWebsocketConsumer):
    def receive_json(self, content: Any) -> None:
        self.send_json({"got": content})


class AsyncJsonEcho(AsyncJsonWebsocketConsumer):
    async def receive_json(self, content: Any) -> None:
        await self.send_json({"got": content}, close=True)


def test_sync_websocket_consumer() -> None:
    with ConsumerTester([route_class(Echo)]) as t:
        t.send_and_consume("websocket.connect", {"path": "/"})
        t.assert_reply({"type": "websocket.accept"})
        assert t.group_channels("broadcast") == [t.reply_channel]
        t.send_and_consume("websocket.receive", {"text": "hi"})
        t.assert_reply(type="websocket.send", text="hi")
        t.send_and_consume("websocket.receive", {"bytes": b"\x00\x01"})
        t.assert_reply(type="websocket.send", bytes=b"\x00\x01")
        t.send_and_consume("websocket.receive", {"text": "bye"})
        t.assert_reply(text="closing")
        t.assert_reply(type="websocket.close", code=1000)
        t.send_and_consume("websocket.disconnect", {"code": 1000})
        assert t.group_channels("broadcast") == []
        t.assert_no_reply()


async def test_async_websocket_consumer_with_route_kwargs() -> None:
    routing = [route_class(AsyncEcho, path=r"^/ws/(?P<room>\w+)/$")]
    async with AsyncConsumerTester(routing) as t:
        await t.send_and_consume("websocket.connect", {"path": "/ws/lobby/"})
        await t.assert_reply(type="websocket.accept", subprotocol="chat")
        await t.send_and_consume("websocket.receive", {"path": "/ws/lobby/", "text": "hi"})
        await t.assert_reply(text="lobby: hi")
        await t.group_send("broadcast", {"type": "websocket.send", "text": "all"})
        await t.assert_reply(text="all")
        await t.send_and_consume("websocket.disconnect", {"path": "/ws/lobby/", "code": 1001})
        assert await t.group_channels("broadcast") == []


def test_json_websocket_consumers() -> None:
    with ConsumerTester([route_class(JsonEcho)]) as t:
        t.send_and_consume("websocket.receive", {"text": '{"a": [1, 2]}'})
        t.assert_reply(text='{"got": {"a": [1, 2]}}')
        assert t.send("websocket.receive", {"bytes": b"x"}) is Outcome.ERROR


async def test_async_json_websocket_consumer() -> None:
    async with AsyncConsumerTester([route_class(AsyncJsonEcho)]) as t:
        await t.send_and_consume("websocket.receive", {"text": "3"})
        await t.assert_reply(text='{"got": 3}')
        await t.assert_reply(type="websocket.close")


# -- HTTP ----------------------------------------------------------------------------------


class Hello(HttpConsumer):
    max_body_size = 10

    def handle(self, body: bytes) -> None:
        self.send_response(200, b"got " + body, [("Content-Type", "text/plain")])


class Stream(AsyncHttpConsumer):
    async def handle(self, body: bytes) -> None:
        await self.send_headers(200, [(b"content-type", b"text/plain")])
        for chunk in (b"a", b"b"):
            await self.send_body(chunk, more_body=True)
        await self.send_body(b"")


def test_http_consumer_collects_a_chunked_body_and_bounds_it() -> None:
    with ConsumerTester([route_class(Hello)]) as t:
        t.send_and_consume("http.request", {"body": b"abc"})
        start = t.assert_reply(type="http.response.start", status=200)
        assert start["headers"] == [[b"content-type", b"text/plain"]]
        t.assert_reply(body=b"got abc", more_body=False)
        t.send_and_consume("http.request", {"body": b"ab", "more_body": True})
        t.assert_no_reply()
        t.send_and_consume("http.request", {"body": b"cd"})
        t.assert_reply(status=200)
        t.assert_reply(body=b"got abcd")
        t.send_and_consume("http.request", {"body": b"0123456", "more_body": True})
        t.send_and_consume("http.request", {"body": b"789abc"})
        t.assert_reply(status=413)
        t.assert_reply(body=b"Request body too large")
        t.send_and_consume("http.request", {"body": b"x", "more_body": True})
        t.send_and_consume("http.disconnect", {})  # the client left: its chunks go
        t.send_and_consume("http.request", {"body": b"y"})
        t.assert_reply(status=200)
        t.assert_reply(body=b"got y")


async def test_async_http_consumer_streams() -> None:
    async with AsyncConsumerTester([route_class(Stream)]) as t:
        await t.send_and_consume("http.request", {"body": b""})
        replies = await t.replies()
        assert [r["type"] for r in replies] == ["http.response.start"] + ["http.response.body"] * 3
        assert [r.get("more_body") for r in replies[1:]] == [True, True, False]


async def test_sync_consumers_run_concurrently_in_threads() -> None:
    # Two sync consumers block until both are running: only possible in two threads.
    barrier = threading.Barrier(2, timeout=10)

    def meet(message: Message) -> None:
        barrier.wait()
        assert message.reply_channel is not None
        message.reply_channel.send({"met": True})

    async with AsyncConsumerTester([route("a.b", meet)]) as t:
        one, two = t.new_reply_channel(), t.new_reply_channel()
        outcomes = await asyncio.gather(t.send("a.b", reply=one), t.send("a.b", reply=two))
        assert list(outcomes) == [Outcome.CONSUMED, Outcome.CONSUMED]
        await t.assert_reply(met=True, reply_channel=one)
        await t.assert_reply(met=True, reply_channel=two)

"""The Dispatcher: where consumers run, what they send, and every way they can fail."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from telephonist.consumers import (
    Channel,
    ConsumeLater,
    DenyConnection,
    Group,
    Message,
    consumer_finished,
    consumer_started,
)
from telephonist.core.codec import Content
from telephonist.core.memory import InMemoryChannelLayer
from telephonist.routing import Router, register_protocol_policy, route
from telephonist.routing.policies import unregister_protocol_policy
from telephonist.worker.dispatch import CONSUME_LATER_KEY, Dispatcher, Outcome


class RecordingLayer(InMemoryChannelLayer):
    """Remembers on which loop each send ran."""

    def __init__(self) -> None:
        super().__init__()
        self.send_loops: list[asyncio.AbstractEventLoop] = []

    async def send(self, channel: str, message: Content) -> None:
        self.send_loops.append(asyncio.get_running_loop())
        await super().send(channel, message)


@pytest.fixture
def layer() -> RecordingLayer:
    return RecordingLayer()


@pytest.fixture
def reply(layer: RecordingLayer) -> str:
    """A connection's reply channel, made by the layer (a layer reads only its own)."""
    return layer.new_channel_nowait("test.reply.")


@pytest.fixture(params=["pool", "to_thread"])
def executor(request: pytest.FixtureRequest) -> Iterator[concurrent.futures.Executor | None]:
    if request.param == "to_thread":
        yield None
        return
    pool = concurrent.futures.ThreadPoolExecutor(2)
    yield pool
    pool.shutdown()


async def drain(layer: InMemoryChannelLayer, channel: str) -> list[Content]:
    depth = layer.depths().get(channel, 0)
    return await layer.receive_many(channel, depth) if depth else []


def dispatcher_for(
    layer: InMemoryChannelLayer, *routes: Any, executor: Any = None, **options: Any
) -> Dispatcher:
    return Dispatcher(Router(list(routes)), layer, executor=executor, **options)


async def test_sync_consumer_runs_in_a_thread_and_its_sends_run_on_the_worker_loop(
    layer: RecordingLayer, reply: str, executor: concurrent.futures.Executor | None
) -> None:
    seen: dict[str, Any] = {}

    def echo(message: Message) -> None:
        seen["thread"] = threading.current_thread()
        assert message.reply_channel is not None
        message.reply_channel.send({"text": message["text"]})
        Channel("log.echo").send({"echoed": message["text"]})  # the current layer
        Group("everyone").add(message.reply_channel)
        Group("everyone").send({"text": "to all"})

    d = dispatcher_for(layer, route("websocket.receive", echo), executor=executor)
    content = {"type": "websocket.receive", "text": "hi", "reply_channel": reply}
    assert await d.dispatch("websocket.receive", content) is Outcome.CONSUMED
    assert seen["thread"] is not threading.current_thread()
    assert await drain(layer, reply) == [{"text": "hi"}, {"text": "to all"}]
    assert await drain(layer, "log.echo") == [{"echoed": "hi"}]
    # Every send, from the thread too, ran on this (the worker's) loop.
    assert set(layer.send_loops) == {asyncio.get_running_loop()}


async def test_async_consumer_runs_on_the_loop_and_awaits_its_sends(
    layer: RecordingLayer, reply: str
) -> None:
    seen: dict[str, Any] = {}

    async def echo(message: Message, room: str) -> None:
        seen["thread"] = threading.current_thread()
        assert message.reply_channel is not None
        await message.reply_channel.send({"text": f"{room}: {message['text']}"})
        await Group(f"room.{room}").add(message.reply_channel)
        await Group(f"room.{room}").send({"text": "joined"})

    d = dispatcher_for(layer, route("websocket.receive", echo, path=r"^/(?P<room>\w+)$"))
    content = {"text": "hi", "path": "/lobby", "reply_channel": reply}
    assert await d.dispatch("websocket.receive", content) is Outcome.CONSUMED
    assert seen["thread"] is threading.current_thread()
    assert await drain(layer, reply) == [{"text": "lobby: hi"}, {"text": "joined"}]


async def test_consumer_gets_the_message_as_sent_not_as_stripped(
    layer: InMemoryChannelLayer,
) -> None:
    from telephonist.routing import include

    got: list[str] = []

    async def consumer(message: Message, room: str) -> None:
        got.append(message["path"])

    routing = [include([route("http.request", consumer, path=r"^/(?P<room>\w+)$")], path="^/chat")]
    d = Dispatcher(Router(routing), layer)
    assert await d.dispatch("http.request", {"path": "/chat/x"}) is Outcome.CONSUMED
    assert got == ["/chat/x"]


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_a_consumer_exception_is_logged_with_type_channel_and_route(
    layer: InMemoryChannelLayer, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    def broken(message: Message) -> None:
        raise RuntimeError("boom")

    async def abroken(message: Message) -> None:
        raise RuntimeError("boom")

    d = dispatcher_for(layer, route("slack.message", broken if kind == "sync" else abroken))
    with caplog.at_level(logging.ERROR, logger="telephonist.dispatch"):
        outcome = await d.dispatch("slack.message", {"type": "slack.message", "text": "x"})
    assert outcome is Outcome.ERROR
    (record,) = [r for r in caplog.records if r.name == "telephonist.dispatch"]
    text = record.getMessage()
    assert "route('slack.message', tests.runtime.test_dispatch." in text
    assert "'slack.message' message from channel 'slack.message'" in text
    assert record.exc_info is not None
    assert str(record.exc_info[1]) == "boom"
    assert d.counters()["error"] == 1
    # The worker carries on.
    assert await d.dispatch("nobody.listens", {}) is Outcome.NO_ROUTE


async def test_consume_later_requeues_with_a_count_and_drops_past_the_limit(
    layer: InMemoryChannelLayer, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []

    def not_yet(message: Message) -> None:
        calls.append(message.get(CONSUME_LATER_KEY, 0))
        raise ConsumeLater

    d = dispatcher_for(layer, route("email.receive", not_yet), consume_later_limit=3)
    outcomes = [await d.dispatch("email.receive", {"type": "email.receive", "n": 1})]
    for _ in range(10):  # bounded: the limit stops it well before
        if not layer.depths().get("email.receive"):
            break
        (message,) = await layer.receive_many("email.receive", 1)
        assert message["n"] == 1
        outcomes.append(await d.dispatch("email.receive", message))
    assert calls == [0, 1, 2, 3]
    assert outcomes == [Outcome.CONSUME_LATER] * 3 + [Outcome.DROPPED]
    assert d.dropped() == {"consume_later_limit": 1}
    assert d.counters()["consume_later"] == 3
    assert "asked to consume it later 4 times" in caplog.text


async def test_consume_later_that_cannot_be_requeued_is_dropped() -> None:
    layer = InMemoryChannelLayer(capacity=1)
    await layer.send("email.receive", {"filler": True})

    def not_yet(message: Message) -> None:
        raise ConsumeLater

    d = dispatcher_for(layer, route("email.receive", not_yet))
    assert await d.dispatch("email.receive", {}) is Outcome.DROPPED
    assert d.dropped() == {"consume_later_failed": 1}


async def test_requeue_hook_replaces_the_layer_send(layer: InMemoryChannelLayer) -> None:
    requeued: list[tuple[str, dict[str, Any]]] = []

    async def requeue(channel: str, content: dict[str, Any]) -> None:
        requeued.append((channel, content))

    async def not_yet(message: Message) -> None:
        raise ConsumeLater

    d = Dispatcher(Router([route("a.b", not_yet)]), layer, requeue=requeue)
    assert await d.dispatch("a.b", {"x": 1}) is Outcome.CONSUME_LATER
    assert requeued == [("a.b", {"x": 1, CONSUME_LATER_KEY: 1})]


async def deny(message: Message) -> None:
    raise DenyConnection


@pytest.mark.parametrize(
    ("channel", "expected"),
    [
        ("websocket.connect", [{"type": "websocket.close", "code": 403}]),
        (
            "http.request",
            [
                {
                    "type": "http.response.start",
                    "status": 403,
                    "headers": [
                        [b"content-type", b"text/plain; charset=utf-8"],
                        [b"content-length", b"9"],
                    ],
                },
                {"type": "http.response.body", "body": b"Forbidden", "more_body": False},
            ],
        ),
    ],
)
async def test_deny_connection_sends_the_protocol_refusal(
    layer: InMemoryChannelLayer, reply: str, channel: str, expected: list[Content]
) -> None:
    d = dispatcher_for(layer, route(channel, deny))
    assert await d.dispatch(channel, {"reply_channel": reply}) is Outcome.DENIED
    assert await drain(layer, reply) == expected


async def test_deny_from_a_sync_consumer_thread(layer: InMemoryChannelLayer, reply: str) -> None:
    def sync_deny(message: Message) -> None:
        raise DenyConnection

    d = dispatcher_for(layer, route("websocket.connect", sync_deny))
    assert await d.dispatch("websocket.connect", {"reply_channel": reply}) is Outcome.DENIED
    assert await drain(layer, reply) == [{"type": "websocket.close", "code": 403}]


async def test_no_route_answers_per_protocol(layer: InMemoryChannelLayer, reply: str) -> None:
    d = dispatcher_for(layer, route("http.request", deny, path="^/admin"))
    content = {"path": "/", "reply_channel": reply}
    assert await d.dispatch("http.request", content) is Outcome.NO_ROUTE
    start, body = await drain(layer, reply)
    assert start["status"] == 404
    assert body == {"type": "http.response.body", "body": b"Not Found", "more_body": False}
    assert await d.dispatch("websocket.connect", content) is Outcome.NO_ROUTE
    assert await drain(layer, reply) == [{"type": "websocket.close", "code": 403}]
    assert d.dropped() == {}


async def test_no_route_elsewhere_is_logged_dropped_and_counted(
    layer: InMemoryChannelLayer, reply: str, caplog: pytest.LogCaptureFixture
) -> None:
    d = dispatcher_for(layer)
    content = {"type": "irc-client.receive", "reply_channel": reply}
    assert await d.dispatch("irc-client.receive", content) is Outcome.NO_ROUTE
    assert await d.dispatch("http.request", {}) is Outcome.NO_ROUTE  # no reply channel
    assert await drain(layer, reply) == []
    assert d.dropped() == {"no_route_unanswered": 2}
    assert "no route for a 'irc-client.receive' message on 'irc-client.receive'" in caplog.text
    assert d.counters() == {
        "consumed": 0,
        "no_route": 2,
        "denied": 0,
        "error": 0,
        "consume_later": 0,
        "dropped": 0,
    }


@pytest.fixture
def linechat_policy() -> Iterator[None]:
    register_protocol_policy(
        "linechat.*",
        no_route=lambda content: [{"line": f"nobody handles {content.get('line')!r}"}],
        deny=[{"line": "go away"}, {"close": True}],
    )
    yield
    unregister_protocol_policy("linechat.*")


@pytest.mark.usefixtures("linechat_policy")
async def test_third_party_protocol_policy(layer: InMemoryChannelLayer, reply: str) -> None:
    d = dispatcher_for(layer, route("linechat.connect", deny))
    assert await d.dispatch("linechat.connect", {"reply_channel": reply}) is Outcome.DENIED
    assert await drain(layer, reply) == [{"line": "go away"}, {"close": True}]
    content = {"line": "hello", "reply_channel": reply}
    assert await d.dispatch("linechat.line", content) is Outcome.NO_ROUTE
    assert await drain(layer, reply) == [{"line": "nobody handles 'hello'"}]


@pytest.fixture
def hooks() -> Iterator[list[tuple[str, str, threading.Thread]]]:
    calls: list[tuple[str, str, threading.Thread]] = []

    def started(**kwargs: Any) -> None:
        calls.append(("started", kwargs["route"], threading.current_thread()))

    def finished(**kwargs: Any) -> None:
        calls.append(("finished", kwargs["route"], threading.current_thread()))

    consumer_started.connect(started)
    consumer_finished.connect(finished)
    yield calls
    consumer_started.disconnect(started)
    consumer_finished.disconnect(finished)


async def test_hooks_run_in_the_consumers_thread_even_when_it_fails(
    layer: InMemoryChannelLayer, hooks: list[tuple[str, str, threading.Thread]]
) -> None:
    threads: list[threading.Thread] = []

    def sync(message: Message) -> None:
        threads.append(threading.current_thread())
        raise ValueError("fails")

    async def asynchronous(message: Message) -> None:
        threads.append(threading.current_thread())

    d = dispatcher_for(layer, route("a.sync", sync), route("a.async", asynchronous))
    local: list[tuple[str, bool]] = []
    d.consumer_started.connect(lambda **kw: local.append((kw["channel"], kw["is_async"])))
    assert await d.dispatch("a.sync", {}) is Outcome.ERROR
    assert await d.dispatch("a.async", {}) is Outcome.CONSUMED
    assert [(kind, thread) for kind, _, thread in hooks] == [
        ("started", threads[0]),
        ("finished", threads[0]),
        ("started", threads[1]),
        ("finished", threads[1]),
    ]
    assert threads[0] is not threading.current_thread()
    assert threads[1] is threading.current_thread()
    assert hooks[0][1].startswith("route('a.sync', ")
    assert local == [("a.sync", False), ("a.async", True)]


async def test_a_failing_hook_is_logged_and_the_consumer_still_runs(
    layer: InMemoryChannelLayer, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[bool] = []

    async def consumer(message: Message) -> None:
        ran.append(True)

    d = dispatcher_for(layer, route("a.b", consumer))

    def bad_hook(**kwargs: Any) -> None:
        raise RuntimeError("hook failed")

    d.consumer_started.connect(bad_hook)
    assert await d.dispatch("a.b", {}) is Outcome.CONSUMED
    assert ran == [True]
    assert "raised" in caplog.text
    assert "hook failed" in caplog.text


async def test_sync_callable_returning_a_coroutine_is_awaited(
    layer: InMemoryChannelLayer, reply: str
) -> None:
    async def real(message: Message) -> None:
        assert message.reply_channel is not None
        await message.reply_channel.send({"ok": True})

    def wrapper(message: Message) -> Any:
        return real(message)

    d = dispatcher_for(layer, route("a.b", wrapper))
    assert await d.dispatch("a.b", {"reply_channel": reply}) is Outcome.CONSUMED
    assert await drain(layer, reply) == [{"ok": True}]


async def test_cancellation_propagates(layer: InMemoryChannelLayer) -> None:
    started = asyncio.Event()

    async def forever(message: Message) -> None:
        started.set()
        await asyncio.Event().wait()

    d = dispatcher_for(layer, route("a.b", forever))
    task = asyncio.create_task(d.dispatch("a.b", {}))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_malformed_reply_channel_is_an_error_not_a_crash(
    layer: InMemoryChannelLayer,
) -> None:
    async def consumer(message: Message) -> None: ...

    d = dispatcher_for(layer, route("a.b", consumer))
    assert await d.dispatch("a.b", {"reply_channel": "not valid!!"}) is Outcome.ERROR


@pytest.fixture
async def many_threads() -> AsyncIterator[concurrent.futures.ThreadPoolExecutor]:
    pool = concurrent.futures.ThreadPoolExecutor(8)
    yield pool
    pool.shutdown()


async def test_concurrent_sync_consumers_each_reply_to_their_own_channel(
    layer: InMemoryChannelLayer, many_threads: concurrent.futures.ThreadPoolExecutor
) -> None:
    def echo(message: Message) -> None:
        assert message.reply_channel is not None
        message.reply_channel.send({"n": message["n"]})

    d = dispatcher_for(layer, route("a.b", echo), executor=many_threads)
    replies = [layer.new_channel_nowait("r.x.") for _ in range(50)]
    outcomes = await asyncio.gather(
        *(d.dispatch("a.b", {"n": n, "reply_channel": replies[n]}) for n in range(50))
    )
    assert set(outcomes) == {Outcome.CONSUMED}
    for n in range(50):
        assert await drain(layer, replies[n]) == [{"n": n}]

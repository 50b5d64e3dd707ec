"""The delivery promise over Socket Mode: acknowledged only once on the layer, never
delivered twice, the bot's own messages never delivered."""

from __future__ import annotations

from typing import Any

from telephonist.core.memory import InMemoryChannelLayer
from telephonist.routing import route
from telephonist.testing.slack import SlackStandIn
from tests.slack.stack import SlackStack, config_for, recorder, running_stack


def record(ref: list[SlackStack]) -> list[Any]:
    return [route("slack.message", recorder(ref))]


async def test_full_layer_gets_no_ack_then_the_redelivery_is_delivered_once(
    slack: SlackStandIn,
) -> None:
    slack.socket.max_retries = 20
    alice, general = slack.add_user("alice"), slack.add_channel("general")
    layer = InMemoryChannelLayer(capacity=1)
    async with running_stack(config_for(slack), layer=layer) as stack:  # no worker yet
        await slack.wait_connected(1)
        first = slack.message("first", alice, general)
        await first.acked()  # the layer had room
        second = slack.message("second", alice, general)
        await stack.counted("refused_full", 2)
        assert second.ack is None  # the layer refused it: Slack was not told we took it
        assert len(second.attempts) >= 2
        await stack.start_worker(record([stack]))
        got = [await stack.next_received(), await stack.next_received()]
        ack = await second.acked()
        assert ack == {"envelope_id": second.envelope_id}
        assert [m["text"] for m in got] == ["first", "second"]
        assert got[1]["retry_attempt"] >= 1
        assert got[1]["retry_reason"] == "timeout"
        assert stack.received.empty()
        assert stack.counters["received"] == 2


async def test_lost_ack_redelivery_is_acked_not_delivered(slack: SlackStandIn) -> None:
    alice, general = slack.add_user("alice"), slack.add_channel("general")
    async with running_stack(config_for(slack), record) as stack:
        await slack.wait_connected(1)
        slack.socket.ignore_acks = 1  # the first ack never reaches Slack
        delivery = slack.message("once", alice, general)
        message = await stack.next_received()
        assert message["text"] == "once"
        await delivery.acked()
        assert [a.retry_attempt for a in delivery.attempts] == [0, 1]
        assert stack.counters["duplicates"] == 1
        assert stack.counters["received"] == 1
        assert stack.received.empty()


async def test_own_messages_are_never_delivered(slack: SlackStandIn) -> None:
    slack.echo_bot_messages = True  # Slack sends the bot's posts back as message events
    alice, general = slack.add_user("alice"), slack.add_channel("general")

    def routes(ref: list[SlackStack]) -> list[Any]:
        return [route("slack.message", recorder(ref, lambda m: {"text": "echo: " + m["text"]}))]

    async with running_stack(config_for(slack), routes) as stack:
        await slack.wait_connected(1)
        await slack.message("hi", alice, general).acked()
        assert (await stack.next_received())["text"] == "hi"
        await slack.wait_for_call("chat.postMessage")
        echoed = await slack.wait_until(
            lambda: [
                d
                for d in slack.socket.deliveries.values()
                if d.ack and d.payload["event"].get("bot_id")
            ]
        )
        assert len(echoed) == 1
        assert stack.counters["ignored_own"] == 1
        assert stack.received.empty()
        assert len(slack.calls_to("chat.postMessage")) == 1


async def test_other_bots_only_when_configured(slack: SlackStandIn) -> None:
    robot, general = slack.add_user("robot", is_bot=True), slack.add_channel("general")
    async with running_stack(config_for(slack), record) as stack:
        await slack.wait_connected(1)
        await slack.message("beep", robot, general).acked()
        await stack.counted("ignored_bot")
        assert stack.received.empty()
    async with running_stack(config_for(slack, bot_messages=True), record) as stack:
        await slack.wait_connected(1)
        slack.message("boop", robot, general)
        message = await stack.next_received()
        assert (message["text"], message["bot_id"]) == ("boop", robot.bot_id)

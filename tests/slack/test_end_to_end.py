"""Events from the stand-in over Socket Mode, through the real host, worker and routing,
answered by consumers through the real Web API client."""

from __future__ import annotations

from typing import Any

from telephonist.consumers import ChatConsumer
from telephonist.routing import route, route_class
from telephonist.testing.slack import SlackStandIn
from tests.slack.stack import SlackStack, config_for, recorder, running_stack


class Echo(ChatConsumer):
    """What a user writes once for every chat protocol."""

    def on_chat(self, text: str, user: str, room: str) -> None:
        self.reply(f"{user} in #{room} said: {text}")


async def test_message_to_chat_consumer_to_post_in_thread(slack: SlackStandIn) -> None:
    alice = slack.add_user("alice", display_name="Alice")
    general = slack.add_channel("general")
    async with running_stack(config_for(slack), lambda ref: [route_class(Echo)]) as stack:
        await slack.wait_connected(1)
        top = slack.message(f"hello <@{slack.team.bot_user.id}>", alice, general)
        await top.acked()
        call = await slack.wait_for_call("chat.postMessage")
        assert call.ok
        assert call.params["channel"] == general.id
        assert call.params["text"] == "Alice in #general said: hello @telephonist-bot"
        assert "thread_ts" not in call.params
        parent = call.response["ts"]
        threaded = slack.message("in a thread", alice, general, thread_ts=parent)
        await threaded.acked()
        reply = await slack.wait_for_call("chat.postMessage", count=2)
        assert reply.params["thread_ts"] == parent
        assert reply.params["text"] == "Alice in #general said: in a thread"
        assert stack.counters["received"] == 2
        assert stack.counters["acked"] == 2


async def test_message_keys(slack: SlackStandIn) -> None:
    alice = slack.add_user("alice", real_name="Alice Liddell")
    general = slack.add_channel("general")

    def routes(ref: list[SlackStack]) -> list[Any]:
        return [route("slack.message", recorder(ref))]

    async with running_stack(config_for(slack), routes) as stack:
        await slack.wait_connected(1)
        delivery = slack.message(f"see <#{general.id}> &amp; <https://x.org|this>", alice, general)
        message = await stack.next_received()
        await delivery.acked()
        assert stack.interface.replies.shared is None  # one server: nothing to share
    event = delivery.payload["event"]
    assert message["type"] == "slack.message"
    assert message["text"] == "see #general & this (https://x.org)"
    assert message["raw_text"] == event["text"]
    assert (message["user"], message["user_id"]) == ("Alice Liddell", alice.id)
    assert (message["room"], message["channel"]) == ("general", general.id)
    assert message["channel_type"] == "channel"
    assert message["team"] == slack.team.id
    assert message["ts"] == event["ts"]
    assert message["thread_ts"] is None
    assert message["event_id"] == delivery.payload["event_id"]
    assert (message["retry_attempt"], message["retry_reason"]) == (0, "")
    assert message["reply_channel"].startswith("srv.")  # all-in-one: the server's own


class MentionBot(ChatConsumer):
    chat_channels = {"slack.app_mention"}

    def on_chat(self, text: str, user: str, room: str) -> None:
        self.reply(f"you said {text!r}")


async def test_mentions_reach_a_chat_consumer_that_asks_for_them(slack: SlackStandIn) -> None:
    alice, general = slack.add_user("alice"), slack.add_channel("general")
    async with running_stack(config_for(slack), lambda ref: [route_class(MentionBot)]):
        await slack.wait_connected(1)
        await slack.mention("hi", alice, general).acked()
        call = await slack.wait_for_call("chat.postMessage")
    assert call.params["text"] == "you said '@telephonist-bot hi'"
    assert call.params["channel"] == general.id

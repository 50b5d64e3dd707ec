"""Slack in the chat contract, for real: the bot's own joins at start, replies Slack
cannot carry out falling back or declined (counted), and private answers in a DM and in
a channel (stand-in, real host and worker)."""

from __future__ import annotations

from typing import Any

from telephonist.consumers import ChatConsumer
from telephonist.routing import route, route_class
from telephonist.testing.slack import SlackStandIn
from tests.slack.stack import SlackStack, config_for, recorder, running_stack


async def test_the_bots_channels_are_announced_as_its_own_joins(slack: SlackStandIn) -> None:
    general = slack.add_channel("general")
    random = slack.add_channel("random", private=True)

    def routes(ref: list[SlackStack]) -> list[Any]:
        return [route("slack.join", recorder(ref))]

    async with running_stack(config_for(slack), routes) as stack:
        joins = [await stack.next_received(), await stack.next_received()]
        await stack.counted("announced")
    assert sorted((j["room"], j["room_id"], j["channel_type"]) for j in joins) == [
        ("general", general.id, "channel"), ("random", random.id, "group")]  # fmt: skip
    for join in joins:
        assert (join["kind"], join["is_self"], join["user_id"]) == (
            "join", True, slack.team.bot_user.id)  # fmt: skip
        assert join["reply_channel"]
    assert slack.calls_to("users.conversations")[0].ok


async def test_a_kind_slack_cannot_do_falls_back_or_is_declined(slack: SlackStandIn) -> None:
    alice = slack.add_user("alice")
    general = slack.add_channel("general")

    def answer(content: dict[str, Any]) -> dict[str, Any]:
        # No Slack reaction is called 🦜: with a fallback the sentence is posted instead.
        reaction = {"kind": "reaction", "emoji": "🦜", "reply_to": content["ts"]}
        if content["text"] == "fb":
            reaction["fallback"] = "parrot!"
        return reaction

    def routes(ref: list[SlackStack]) -> list[Any]:
        return [route("slack.message", recorder(ref, answer))]

    async with running_stack(config_for(slack, announce_channels=0), routes) as stack:
        await slack.wait_connected(1)
        await slack.message("plain", alice, general).acked()
        await stack.counted("chat_declined_reaction")
        await slack.message("fb", alice, general).acked()
        call = await slack.wait_for_call("chat.postMessage")
        await stack.counted("chat_fallback_reaction")
    assert call.params["text"] == "parrot!"
    assert slack.calls_to("reactions.add") == []
    assert slack.calls_to("users.conversations") == []  # announce_channels = 0


async def test_a_direct_message_is_direct_and_a_private_answer_stays_in_it(
    slack: SlackStandIn,
) -> None:
    alice = slack.add_user("alice", display_name="Alice")
    general = slack.add_channel("general")
    dm = slack.add_channel("alice", im=True)

    class Private(ChatConsumer):
        def on_chat(self, text: str, user: str, room: str) -> None:
            self.reply(f"just for you, {user}", private=True)

    async with running_stack(config_for(slack, announce_channels=0),
                             lambda ref: [route_class(Private)]):  # fmt: skip
        await slack.wait_connected(1)
        await slack.message("psst", alice, dm).acked()
        in_dm = await slack.wait_for_call("chat.postMessage")
        await slack.message("in the open", alice, general).acked()
        ephemeral = await slack.wait_for_call("chat.postEphemeral")
    assert (in_dm.params["channel"], in_dm.params["text"]) == (dm.id, "just for you, Alice")
    # In a channel, private is ephemeral: to Alice, found by the name the consumer used.
    assert (ephemeral.params["channel"], ephemeral.params["user"]) == (general.id, alice.id)
    assert ephemeral.ok

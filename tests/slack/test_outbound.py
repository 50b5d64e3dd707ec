"""Replies going out: 429s honoured for every caller, per-channel pacing, Slack errors
counted by code, the bounded queue, a token per workspace."""

from __future__ import annotations

import itertools
from typing import Any

from telephonist.consumers import Message
from telephonist.routing import route
from telephonist.testing.slack import SlackStandIn
from tests.slack.stack import SlackStack, config_for, recorder, running_stack


async def echo(message: Message) -> None:
    assert message.reply_channel is not None
    for line in message.content["text"].split("|"):
        await message.reply_channel.send({"text": line})


def echo_routes(ref: list[SlackStack]) -> list[Any]:
    return [route("slack.message", echo)]


async def test_a_429_pauses_every_caller_of_the_method(slack: SlackStandIn) -> None:
    alice = slack.add_user("alice")
    one, two = slack.add_channel("one"), slack.add_channel("two")
    async with running_stack(config_for(slack), echo_routes) as stack:
        await slack.wait_connected(1)
        slack.rate_limit("chat.postMessage", retry_after=1, times=1)
        await slack.message("a", alice, one).acked()
        limited = await slack.wait_for_call("chat.postMessage")
        assert limited.status == 429
        await slack.message("b", alice, two).acked()  # another channel, after the 429
        posts = await slack.wait_until(
            lambda: (
                len(slack.calls_to("chat.postMessage", ok=True)) == 2
                and slack.calls_to("chat.postMessage", ok=True)
            )
        )
        for call in posts:
            assert call.at - limited.at >= 0.95, (call.params, call.at - limited.at)
        assert {c.params["channel"] for c in posts} == {one.id, two.id}
        assert stack.counters["api_rate_limited"] == 1
        assert stack.counters.get("api_dropped", 0) == 0


async def test_posts_in_one_channel_are_paced_and_ordered(slack: SlackStandIn) -> None:
    alice, general = slack.add_user("alice"), slack.add_channel("general")
    async with running_stack(config_for(slack, post_interval=0.3), echo_routes):
        await slack.wait_connected(1)
        await slack.message("1|2|3|4", alice, general).acked()
        posts = await slack.wait_until(
            lambda: (
                len(slack.calls_to("chat.postMessage")) == 4 and slack.calls_to("chat.postMessage")
            )
        )
    assert [c.params["text"] for c in posts] == ["1", "2", "3", "4"]
    # Arrival times at the stand-in carry the loopback's jitter on a loaded machine, so
    # one gap may look a little short when the post before it arrived late; the pacing
    # shows in every gap staying well above zero and in the span of the whole burst.
    gaps = [b.at - a.at for a, b in itertools.pairwise(posts)]
    assert all(gap >= 0.2 for gap in gaps), gaps
    assert posts[-1].at - posts[0].at >= 3 * 0.3 - 0.03, gaps


async def test_slack_errors_are_counted_by_code(slack: SlackStandIn) -> None:
    alice, general = slack.add_user("alice"), slack.add_channel("general")

    def routes(ref: list[SlackStack]) -> list[Any]:
        return [
            route(
                "slack.message",
                recorder(
                    ref, lambda m: {"type": "slack.send.post", "channel": "C_GONE", "text": "x"}
                ),
            )
        ]

    async with running_stack(config_for(slack), routes) as stack:
        await slack.wait_connected(1)
        await slack.message("hi", alice, general).acked()
        await stack.counted("api_error.channel_not_found")
        assert stack.counters["api_errors"] == 1


async def test_outbound_queue_is_bounded(slack: SlackStandIn) -> None:
    alice, general = slack.add_user("alice"), slack.add_channel("general")
    config = config_for(slack, queue_size=2, post_interval=10.0)
    async with running_stack(config, echo_routes) as stack:
        await slack.wait_connected(1)
        await slack.message("|".join("abcdef"), alice, general).acked()
        await slack.wait_for_call("chat.postMessage")
        refused = await stack.counted("api_queue_full", 3)  # at most 2 wait, 1 may be out
        outbox = stack.interface.status()["workspaces"][slack.team.id]["outbox"]
        posted = len(slack.calls_to("chat.postMessage"))
        assert posted == 1  # the next post in that channel is 10 s away
        assert refused + outbox["queued"] + posted == 6
        assert outbox["queued"] <= 2


async def test_a_token_per_workspace(slack: SlackStandIn) -> None:
    other = slack.add_team("other")
    bob = slack.add_user("bob", team=other)
    lounge = slack.add_channel("lounge", team=other)
    alice, general = slack.add_user("alice"), slack.add_channel("general")
    config = config_for(slack, teams={other.id: {"bot_token": other.bot_token}})
    async with running_stack(config, echo_routes):
        await slack.wait_connected(1)
        await slack.message("home", alice, general).acked()
        await slack.message("away", bob, lounge, team=other).acked()
        posts = await slack.wait_until(
            lambda: (
                len(slack.calls_to("chat.postMessage")) == 2 and slack.calls_to("chat.postMessage")
            )
        )
    tokens = {c.params["text"]: c.token for c in posts}
    assert tokens == {"home": slack.team.bot_token, "away": other.bot_token}
    assert all(c.ok for c in posts)

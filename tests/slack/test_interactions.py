"""Commands and interactions: answers that ride on the acknowledgement, response_url,
modals."""

from __future__ import annotations

import time
from typing import Any

from telephonist.consumers import Message
from telephonist.routing import route
from telephonist.testing.slack import (
    SlackStandIn,
    block_actions,
    block_suggestion,
    shortcut,
    view_submission,
)
from tests.slack.stack import SlackStack, config_for, recorder, running_stack

MODAL = {
    "type": "modal",
    "callback_id": "signup",
    "title": {"type": "plain_text", "text": "Hi"},
    "blocks": [
        {
            "type": "input",
            "block_id": "email",
            "label": {"type": "plain_text", "text": "Email"},
            "element": {"type": "plain_text_input", "action_id": "value"},
        }
    ],
}


async def weather(message: Message) -> None:
    """Answers at once (in the ack), then again later through response_url."""
    assert message.reply_channel is not None
    city = message.content["text"]
    await message.reply_channel.send({"text": f"Looking up {city}..."})
    await message.reply_channel.send(
        {"type": "slack.send.respond", "text": f"{city}: sunny", "response_type": "in_channel"}
    )


async def test_slash_command_answered_in_the_ack_and_through_response_url(
    slack: SlackStandIn,
) -> None:
    alice, general = slack.add_user("alice"), slack.add_channel("general")
    async with running_stack(
        config_for(slack), lambda ref: [route("slack.command", weather)]
    ) as stack:
        await slack.wait_connected(1)
        started = time.monotonic()
        delivery = slack.command("/weather", "Paris", alice, general)
        await delivery.acked()
        assert time.monotonic() - started < 3.0  # Slack's deadline
        assert delivery.ack_payload == {"text": "Looking up Paris..."}
        post = await slack.wait_until(lambda: slack.responses)
        assert post[0].body == {"text": "Paris: sunny", "response_type": "in_channel"}
        assert post[0].url == delivery.payload["response_url"]
        assert post[0].status == 200
        assert stack.counters["ack_payloads"] == 1
        assert await stack.counted("responded") == 1


async def test_command_without_a_quick_answer_is_acked_empty(slack: SlackStandIn) -> None:
    alice, general = slack.add_user("alice"), slack.add_channel("general")

    def routes(ref: list[SlackStack]) -> list[Any]:
        return [route("slack.command", recorder(ref))]  # never answers

    async with running_stack(config_for(slack, ack_wait=0.3), routes) as stack:
        await slack.wait_connected(1)
        delivery = slack.command("/later", "", alice, general)
        ack = await delivery.acked()
        assert ack == {"envelope_id": delivery.envelope_id}
        command = await stack.next_received()
        assert command["command"] == "/later"
        assert command["response_url"] == delivery.payload["response_url"]
        # Too late for the ack: a later slack.ack is refused, a {"text"} uses response_url.
        await stack.layer.send(command["reply_channel"], {"type": "slack.ack", "text": "late"})
        await stack.layer.send(command["reply_channel"], {"text": "done"})
        post = await slack.wait_until(lambda: slack.responses)
        assert post[0].body == {"text": "done"}
        assert await stack.counted("rejected") == 1


async def test_response_url_used_at_most_five_times(slack: SlackStandIn) -> None:
    alice, general = slack.add_user("alice"), slack.add_channel("general")

    async def chatty(message: Message) -> None:
        assert message.reply_channel is not None
        for i in range(7):
            await message.reply_channel.send({"type": "slack.send.respond", "text": str(i)})

    async with running_stack(
        config_for(slack), lambda ref: [route("slack.command", chatty)]
    ) as stack:
        await slack.wait_connected(1)
        await slack.command("/chatty", "", alice, general).acked()
        await stack.counted("respond_refused", 2)
        await slack.wait_until(lambda: len(slack.responses) == 5)
        assert [r.body["text"] for r in slack.responses] == ["0", "1", "2", "3", "4"]
        assert all(r.status == 200 for r in slack.responses)


async def test_modal_opened_and_submission_errors_returned_in_the_ack(slack: SlackStandIn) -> None:
    alice, general = slack.add_user("alice"), slack.add_channel("general")

    async def app(message: Message) -> None:
        assert message.reply_channel is not None
        content = message.content
        if content["type"] == "slack.command":
            await message.reply_channel.send({"type": "slack.send.view.open", "view": MODAL})
        elif content["kind"] == "submission":
            email = content["values"]["email"]["value"]["value"]
            if "@" not in email:
                await message.reply_channel.send(
                    {
                        "type": "slack.ack",
                        "response_action": "errors",
                        "errors": {"email": "not an address"},
                    }
                )
            else:
                await message.reply_channel.send({"type": "slack.ack", "response_action": "clear"})

    routes = [route("slack.command", app), route("slack.view", app)]
    async with running_stack(config_for(slack), lambda ref: routes) as stack:
        await slack.wait_connected(1)
        opened = slack.command("/signup", "", alice, general)
        assert (await opened.acked()) == {"envelope_id": opened.envelope_id}  # acked empty
        call = await slack.wait_for_call("views.open")
        assert call.ok, call.response
        assert call.params["trigger_id"] == opened.payload["trigger_id"]
        view = call.response["view"]

        def submit(email: str) -> Any:
            return slack.interaction(
                view_submission(
                    view=view,
                    values={"email": {"value": {"type": "plain_text_input", "value": email}}},
                    team_id=slack.team.id,
                    domain=slack.team.domain,
                    app_id=slack.app_id,
                    user_id=alice.id,
                    user_name=alice.name,
                    trigger_id=slack.new_trigger(),
                    response_urls=[],
                )
            )

        bad = submit("nope")
        await bad.acked()
        assert bad.ack_payload == {
            "response_action": "errors",
            "errors": {"email": "not an address"},
        }
        good = submit("a@b.org")
        await good.acked()
        assert good.ack_payload == {"response_action": "clear"}
        assert stack.counters["ack_payloads"] == 2


async def test_options_and_shortcut_and_block_action(slack: SlackStandIn) -> None:
    alice, general = slack.add_user("alice"), slack.add_channel("general")

    async def app(message: Message) -> None:
        assert message.reply_channel is not None
        kind = message.content["type"]
        if kind == "slack.options":
            value = message.content["value"]
            await message.reply_channel.send(
                {
                    "type": "slack.ack",
                    "options": [
                        {"text": {"type": "plain_text", "text": value.upper()}, "value": value}
                    ],
                }
            )
        elif kind == "slack.shortcut":
            await message.reply_channel.send({"type": "slack.send.view.open", "view": MODAL})
        elif kind == "slack.action":
            await message.reply_channel.send(
                {"text": f"clicked {message.content['actions'][0]['value']}"}
            )
            await message.reply_channel.send({"type": "slack.send.react", "name": ":tada:"})

    routes = [route(name, app) for name in ("slack.options", "slack.shortcut", "slack.action")]
    team = slack.team
    async with running_stack(config_for(slack), lambda ref: routes):
        await slack.wait_connected(1)
        options = slack.interaction(
            block_suggestion(
                action_id="pick",
                block_id="b",
                value="par",
                team_id=team.id,
                domain=team.domain,
                app_id=slack.app_id,
                user_id=alice.id,
                user_name=alice.name,
            )
        )
        await options.acked()
        assert options.ack_payload == {
            "options": [{"text": {"type": "plain_text", "text": "PAR"}, "value": "par"}]
        }

        quick = slack.interaction(
            shortcut(
                callback_id="new",
                team_id=team.id,
                domain=team.domain,
                app_id=slack.app_id,
                user_id=alice.id,
                user_name=alice.name,
                trigger_id=slack.new_trigger(),
            )
        )
        await quick.acked()
        assert (await slack.wait_for_call("views.open")).ok

        posted = slack.message("pick one", alice, general)
        await posted.acked()
        ts = posted.payload["event"]["ts"]
        click = slack.interaction(
            block_actions(
                actions=[{"action_id": "go", "block_id": "b", "type": "button", "value": "42"}],
                team_id=team.id,
                domain=team.domain,
                app_id=slack.app_id,
                user_id=alice.id,
                user_name=alice.name,
                channel_id=general.id,
                channel_name=general.name,
                message_ts=ts,
                response_url=slack.new_response_url(team, general.id),
                trigger_id=slack.new_trigger(),
            )
        )
        await click.acked()
        assert click.ack_payload is None
        post = await slack.wait_until(lambda: slack.responses)
        assert post[0].body == {"text": "clicked 42"}
        react = await slack.wait_for_call("reactions.add")
        assert react.params == {"channel": general.id, "timestamp": ts, "name": "tada"}
        assert react.ok

"""The stand-in's Web API, driven by slack-sdk's real asyncio clients."""

from __future__ import annotations

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from telephonist.testing.slack import SlackStandIn


def client(slack: SlackStandIn, token: str | None = None) -> AsyncWebClient:
    return AsyncWebClient(token or slack.team.bot_token, base_url=slack.api_url)


async def test_auth_test_names_the_bot(slack: SlackStandIn) -> None:
    answer = await client(slack).auth_test()
    assert answer["user_id"] == slack.team.bot_user.id
    assert answer["bot_id"] == slack.team.bot_user.bot_id
    assert answer["team_id"] == slack.team.id
    call = slack.calls_to("auth.test")[0]
    assert call.token == slack.team.bot_token  # from Authorization: Bearer


async def test_post_message_json_body_unique_increasing_ts(slack: SlackStandIn) -> None:
    general = slack.add_channel("general")
    web = client(slack)
    stamps = []
    for i in range(20):
        answer = await web.chat_postMessage(channel=general.id, text=f"m{i}")
        stamps.append(answer["ts"])
        assert answer["channel"] == general.id
        assert answer["message"]["bot_id"] == slack.team.bot_user.bot_id
    assert len(set(stamps)) == 20
    assert stamps == sorted(stamps, key=lambda ts: tuple(map(int, ts.split("."))))
    call = slack.calls_to("chat.postMessage")[0]
    assert call.content_type == "application/json"
    assert call.params == {"channel": general.id, "text": "m0"}


async def test_errors_are_http_200_ok_false(slack: SlackStandIn) -> None:
    web = client(slack)
    with pytest.raises(SlackApiError) as caught:
        await web.chat_postMessage(channel="C_NOPE", text="x")
    assert caught.value.response.status_code == 200
    assert caught.value.response["error"] == "channel_not_found"
    general = slack.add_channel("general")
    with pytest.raises(SlackApiError) as caught, pytest.warns(UserWarning, match="text"):
        await web.chat_postMessage(channel=general.id)
    assert caught.value.response["error"] == "no_text"
    with pytest.raises(SlackApiError) as caught:
        await client(slack, "xoxb-wrong").auth_test()
    assert caught.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as caught:
        await client(slack, slack.app_token).auth_test()
    assert caught.value.response["error"] == "not_allowed_token_type"
    with pytest.raises(SlackApiError) as caught:
        await web.apps_connections_open(app_token=slack.team.bot_token)
    assert caught.value.response["error"] == "not_allowed_token_type"
    with pytest.raises(SlackApiError) as caught:
        await web.api_call("chat.nonexistent")
    assert caught.value.response["error"] == "unknown_method"


async def test_form_and_query_bodies_and_token_parameter(slack: SlackStandIn) -> None:
    general = slack.add_channel("general")
    async with aiohttp.ClientSession() as session:
        form = {"token": slack.team.bot_token, "channel": general.id, "text": "by form"}
        async with session.post(slack.api_url + "chat.postMessage", data=form) as response:
            assert response.status == 200
            assert (await response.json())["ok"] is True
        query = {"token": slack.team.bot_token, "channel": general.id}
        async with session.get(slack.api_url + "conversations.info", params=query) as response:
            assert (await response.json())["channel"]["name"] == "general"
    assert slack.calls_to("chat.postMessage")[0].content_type == "application/x-www-form-urlencoded"


async def test_update_delete_ephemeral_reactions(slack: SlackStandIn) -> None:
    general = slack.add_channel("general")
    alice = slack.add_user("alice")
    web = client(slack)
    posted = await web.chat_postMessage(channel=general.id, text="draft")
    updated = await web.chat_update(channel=general.id, ts=posted["ts"], text="final")
    assert updated["text"] == "final"
    await web.reactions_add(channel=general.id, timestamp=posted["ts"], name="tada")
    with pytest.raises(SlackApiError) as caught:
        await web.reactions_add(channel=general.id, timestamp=posted["ts"], name="tada")
    assert caught.value.response["error"] == "already_reacted"
    await web.reactions_remove(channel=general.id, timestamp=posted["ts"], name="tada")
    with pytest.raises(SlackApiError) as caught:
        await web.reactions_remove(channel=general.id, timestamp=posted["ts"], name="tada")
    assert caught.value.response["error"] == "no_reaction"
    ephemeral = await web.chat_postEphemeral(channel=general.id, user=alice.id, text="psst")
    assert ephemeral["message_ts"]
    await web.chat_delete(channel=general.id, ts=posted["ts"])
    with pytest.raises(SlackApiError) as caught:
        await web.chat_delete(channel=general.id, ts=posted["ts"])
    assert caught.value.response["error"] == "message_not_found"
    said = slack.message("mine", alice, general)
    del said
    theirs = max(ts for (channel, ts) in slack.state.messages if channel == general.id)
    with pytest.raises(SlackApiError) as caught:
        await web.chat_update(channel=general.id, ts=theirs, text="hijack")
    assert caught.value.response["error"] == "cant_update_message"


async def test_users_and_conversations_info(slack: SlackStandIn) -> None:
    alice = slack.add_user("alice", real_name="Alice Liddell", display_name="ali")
    general = slack.add_channel("general")
    web = client(slack)
    user = (await web.users_info(user=alice.id))["user"]
    assert (user["name"], user["profile"]["display_name"]) == ("alice", "ali")
    assert (await web.conversations_info(channel=general.id))["channel"]["name"] == "general"
    with pytest.raises(SlackApiError) as caught:
        await web.users_info(user="U_NOBODY")
    assert caught.value.response["error"] == "user_not_found"
    assert slack.calls_to("users.info")[0].http_method == "GET"


async def test_views_need_a_fresh_trigger(slack: SlackStandIn) -> None:
    web = client(slack)
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Hi"}, "blocks": []}
    opened = await web.views_open(trigger_id=slack.new_trigger(), view=modal)
    view_id = opened["view"]["id"]
    with pytest.raises(SlackApiError) as caught:
        await web.views_open(trigger_id="1.2.nope", view=modal)
    assert caught.value.response["error"] == "invalid_trigger_id"
    updated = await web.views_update(
        view_id=view_id, view={**modal, "blocks": [{"type": "divider"}]}
    )
    assert updated["view"]["blocks"] == [{"type": "divider"}]
    pushed = await web.views_push(trigger_id=slack.new_trigger(), view=modal)
    assert pushed["view"]["id"] != view_id
    with pytest.raises(SlackApiError) as caught:
        await web.views_update(view_id="V_NONE", view=modal)
    assert caught.value.response["error"] == "not_found"


async def test_expired_trigger(slack: SlackStandIn) -> None:
    slack.trigger_lifetime = 0.0
    trigger = slack.new_trigger()
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "Hi"}, "blocks": []}
    with pytest.raises(SlackApiError) as caught:
        await client(slack).views_open(trigger_id=trigger, view=modal)
    assert caught.value.response["error"] == "expired_trigger_id"


async def test_forced_429_with_retry_after(slack: SlackStandIn) -> None:
    general = slack.add_channel("general")
    slack.rate_limit("chat.postMessage", retry_after=1, times=1)
    with pytest.raises(SlackApiError) as caught:
        await client(slack).chat_postMessage(channel=general.id, text="x")
    assert caught.value.response.status_code == 429
    assert caught.value.response.headers["Retry-After"] == "1"
    assert caught.value.response["error"] == "ratelimited"
    # slack-sdk's own retry handler waits Retry-After and tries again.
    slack.rate_limit("chat.postMessage", retry_after=1, times=1)
    patient = client(slack)
    patient.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=1))
    answer = await patient.chat_postMessage(channel=general.id, text="y")
    assert answer["ok"]
    limited, passed = slack.calls_to("chat.postMessage")[-2:]
    assert limited.status == 429
    assert passed.ok
    assert passed.at - limited.at >= 0.9


async def test_response_url_five_uses(slack: SlackStandIn) -> None:
    general = slack.add_channel("general")
    url = slack.new_response_url(slack.team, general.id)
    hook = AsyncWebhookClient(url)
    for i in range(5):
        response = await hook.send(text=f"answer {i}")
        assert response.status_code == 200
    sixth = await hook.send(text="too many")
    assert sixth.status_code == 404
    assert '"used_url"' in sixth.body
    assert [r.body["text"] for r in slack.responses[:5]] == [f"answer {i}" for i in range(5)]

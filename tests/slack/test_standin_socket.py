"""The stand-in's Socket Mode: slack-sdk's own Socket Mode client, and a raw aiohttp
WebSocket for what a client library hides (redelivery, disconnect frames)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from telephonist.testing.slack import REASONS, SlackStandIn


class RawLink:
    """A Socket Mode connection made by hand."""

    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.session, self.ws = session, ws

    async def frame(self, within: float = 5.0) -> dict[str, Any]:
        message = await self.ws.receive(timeout=within)
        assert message.type == aiohttp.WSMsgType.TEXT, message
        frame: dict[str, Any] = json.loads(message.data)
        return frame

    async def ack(self, envelope_id: str, payload: Any = None) -> None:
        body: dict[str, Any] = {"envelope_id": envelope_id}
        if payload is not None:
            body["payload"] = payload
        await self.ws.send_str(json.dumps(body))


@pytest.fixture
async def raw(slack: SlackStandIn) -> AsyncIterator[RawLink]:
    async with aiohttp.ClientSession() as session:
        link = await open_link(slack, session)
        yield link
        await link.ws.close()


async def open_link(
    slack: SlackStandIn, session: aiohttp.ClientSession, autoping: bool = True
) -> RawLink:
    web = AsyncWebClient(base_url=slack.api_url)
    url = (await web.apps_connections_open(app_token=slack.app_token))["url"]
    assert url.startswith("ws://127.0.0.1:")
    link = RawLink(session, await session.ws_connect(url, autoping=autoping))
    hello = await link.frame()
    assert hello["type"] == "hello"
    assert hello["connection_info"]["app_id"] == slack.app_id
    return link


async def test_slack_sdk_socket_mode_client_receives_and_acks(slack: SlackStandIn) -> None:
    web = AsyncWebClient(slack.team.bot_token, base_url=slack.api_url)
    client = SocketModeClient(slack.app_token, web_client=web)
    got: asyncio.Queue[SocketModeRequest] = asyncio.Queue()

    async def listener(client: Any, request: SocketModeRequest) -> None:
        await client.send_socket_mode_response(SocketModeResponse(request.envelope_id))
        await got.put(request)

    client.socket_mode_request_listeners.append(listener)
    await client.connect()
    try:
        await slack.wait_connected(1)
        alice, general = slack.add_user("alice"), slack.add_channel("general")
        delivery = slack.message("hi there", alice, general)
        ack = await delivery.acked()
        assert ack == {"envelope_id": delivery.envelope_id}
        request = await asyncio.wait_for(got.get(), 5)
        assert request.type == "events_api"
        assert request.payload["event"]["text"] == "hi there"
        assert request.payload["event"]["channel_type"] == "channel"
        assert len(delivery.attempts) == 1
    finally:
        await client.close()


async def test_unacked_envelope_is_redelivered_then_given_up(
    slack: SlackStandIn, raw: RawLink
) -> None:
    slack.socket.max_retries = 2
    delivery = slack.push_event({"type": "app_home_opened", "user": "U1"})
    frames = [await raw.frame() for _ in range(3)]
    assert [f["retry_attempt"] for f in frames] == [0, 1, 2]
    assert [f["retry_reason"] for f in frames] == ["", "timeout", "timeout"]
    assert {f["envelope_id"] for f in frames} == {delivery.envelope_id}
    assert all(f["accepts_response_payload"] is False for f in frames)
    await slack.wait_until(lambda: delivery.failed, within=5)
    with pytest.raises(AssertionError):
        await delivery.acked()


async def test_ignored_and_delayed_acks_cause_redelivery(slack: SlackStandIn, raw: RawLink) -> None:
    slack.socket.ignore_acks = 1
    delivery = slack.push_event({"type": "app_home_opened", "user": "U1"})
    first = await raw.frame()
    await raw.ack(first["envelope_id"])  # lost
    second = await raw.frame()
    assert second["retry_attempt"] == 1
    await raw.ack(second["envelope_id"], payload=None)
    ack = await delivery.acked()
    assert ack["envelope_id"] == delivery.envelope_id
    assert len(delivery.attempts) == 2

    slack.socket.ack_delay = 0.8  # longer than the 0.5 s ack timeout
    late = slack.push_event({"type": "app_home_opened", "user": "U2"})
    first = await raw.frame()
    await raw.ack(first["envelope_id"])
    retry = await raw.frame()
    assert (retry["envelope_id"], retry["retry_attempt"]) == (late.envelope_id, 1)
    await late.acked()


async def test_ack_payload_recorded(slack: SlackStandIn, raw: RawLink) -> None:
    alice, general = slack.add_user("alice"), slack.add_channel("general")
    delivery = slack.command("/weather", "paris", alice, general)
    frame = await raw.frame()
    assert frame["type"] == "slash_commands"
    assert frame["accepts_response_payload"] is True
    assert frame["payload"]["command"] == "/weather"
    assert frame["payload"]["response_url"].startswith(slack.base_url)
    await raw.ack(frame["envelope_id"], {"text": "sunny"})
    await delivery.acked()
    assert delivery.ack_payload == {"text": "sunny"}


async def test_payload_pushed_while_disconnected_arrives_as_a_retry(slack: SlackStandIn) -> None:
    delivery = slack.push_event({"type": "app_home_opened", "user": "U1"})
    assert delivery.attempts[0].link is None
    async with aiohttp.ClientSession() as session:
        link = await open_link(slack, session)
        frame = await link.frame()
        assert (frame["envelope_id"], frame["retry_attempt"]) == (delivery.envelope_id, 1)
        await link.ack(frame["envelope_id"])
        await delivery.acked()
        await link.ws.close()


@pytest.mark.parametrize("reason", REASONS)
async def test_disconnect_frames(slack: SlackStandIn, raw: RawLink, reason: str) -> None:
    link = await slack.disconnect(reason)
    frame = await raw.frame()
    assert frame["type"] == "disconnect"
    assert frame["reason"] == reason
    closing = await raw.ws.receive(timeout=5)  # at once, or after refresh_grace (1 s)
    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    await slack.wait_until(lambda: link.closed.is_set(), within=5)


async def test_too_many_websockets_and_single_use_urls(slack: SlackStandIn) -> None:
    slack.socket.max_connections = 1
    web = AsyncWebClient(base_url=slack.api_url)
    async with aiohttp.ClientSession() as session:
        first = await open_link(slack, session)
        url = (await web.apps_connections_open(app_token=slack.app_token))["url"]
        second = RawLink(session, await session.ws_connect(url))
        frame = await second.frame()
        assert (frame["type"], frame["reason"]) == ("disconnect", "too_many_websockets")
        with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
            await session.ws_connect(url)  # the same URL again
        assert caught.value.status == 401
        await first.ws.close()


async def test_frozen_link_answers_no_ping(slack: SlackStandIn) -> None:
    async with aiohttp.ClientSession() as session:
        raw = await open_link(slack, session, autoping=False)
        await frozen_link_answers_no_ping(slack, raw)
        await raw.ws.close()


async def frozen_link_answers_no_ping(slack: SlackStandIn, raw: RawLink) -> None:
    [link] = await slack.wait_connected(1)
    await raw.ws.ping(b"before")
    pong = await raw.ws.receive(timeout=5)
    assert pong.type == aiohttp.WSMsgType.PONG
    await slack.freeze(link)
    await raw.ws.ping(b"after")
    with pytest.raises(asyncio.TimeoutError):
        await raw.ws.receive(timeout=0.5)

"""The Events API over HTTP, through the interface's sans-IO request handler with requests
signed (or forged, stale, tampered) by the stand-in. The HTTP interface's mount of
``events_path`` is a separate seam; this is everything behind it."""

from __future__ import annotations

import json
from typing import Any

from telephonist.core.memory import InMemoryChannelLayer
from telephonist.interfaces.slack.events_api import HttpAnswer
from telephonist.routing import route
from telephonist.testing.slack import SlackStandIn
from tests.slack.stack import SlackStack, config_for, recorder, running_stack


def http_config(slack: SlackStandIn, **extra: Any) -> dict[str, Any]:
    return config_for(slack, app_token=None, **extra)  # Events API only


def record(ref: list[SlackStack]) -> list[Any]:
    return [
        route("slack.message", recorder(ref)),
        route("slack.command", recorder(ref, lambda m: {"text": "ok " + m["text"]})),
    ]


async def post(
    stack: SlackStack, slack: SlackStandIn, payload: dict[str, Any], **kw: Any
) -> HttpAnswer:
    headers, body = slack.http_request(payload, **kw)
    return await stack.interface.handle_http("POST", headers, body)


async def test_url_verification(slack: SlackStandIn) -> None:
    async with running_stack(http_config(slack), record) as stack:
        answer = await post(
            stack, slack, {"type": "url_verification", "challenge": "c-42", "token": "x"}
        )
        assert answer.status == 200
        assert json.loads(answer.body) == {"challenge": "c-42"}
        assert stack.counters["url_verifications"] == 1
        assert stack.received.empty()


async def test_signed_event_delivered_with_retry_headers_and_deduplicated(
    slack: SlackStandIn,
) -> None:
    alice, general = slack.add_user("alice"), slack.add_channel("general")
    payload = slack.event_callback(slack.message_event("over http", alice, general))
    async with running_stack(http_config(slack), record) as stack:
        answer = await post(stack, slack, payload, retry_num=1, retry_reason="http_timeout")
        assert (answer.status, answer.body) == (200, b"")
        message = await stack.next_received()
        assert (message["text"], message["user"], message["room"]) == (
            "over http",
            "alice",
            "general",
        )
        assert (message["retry_attempt"], message["retry_reason"]) == (1, "http_timeout")
        again = await post(stack, slack, payload, retry_num=2, retry_reason="http_error")
        assert again.status == 200
        assert stack.counters["duplicates"] == 1
        assert stack.received.empty()


async def test_forged_stale_tampered_unsigned_are_refused(slack: SlackStandIn) -> None:
    alice, general = slack.add_user("alice"), slack.add_channel("general")
    payload = slack.event_callback(slack.message_event("evil", alice, general))
    async with running_stack(http_config(slack), record) as stack:
        for tamper in ("forged", "stale", "tampered", "unsigned"):
            answer = await post(stack, slack, payload, tamper=tamper)
            assert answer.status == 401, tamper
        assert stack.counters["signature_bad"] == 2  # forged and tampered
        assert stack.counters["signature_stale"] == 1
        assert stack.counters["signature_missing"] == 1
        assert stack.counters.get("received", 0) == 0
        assert (await post(stack, slack, payload)).status == 200  # the real one still works
        assert (await stack.next_received())["text"] == "evil"


async def test_full_layer_answers_503_then_the_retry_is_delivered_once(slack: SlackStandIn) -> None:
    alice, general = slack.add_user("alice"), slack.add_channel("general")
    layer = InMemoryChannelLayer(capacity=1)
    first = slack.event_callback(slack.message_event("first", alice, general))
    second = slack.event_callback(slack.message_event("second", alice, general))
    async with running_stack(http_config(slack), layer=layer) as stack:
        assert (await post(stack, slack, first)).status == 200
        refused = await post(stack, slack, second)
        assert refused.status == 503
        assert stack.counters["refused_full"] == 1
        await stack.start_worker(record([stack]))
        assert (await stack.next_received())["text"] == "first"
        retry = await post(stack, slack, second, retry_num=1, retry_reason="http_error")
        assert retry.status == 200
        assert (await stack.next_received())["text"] == "second"
        assert stack.received.empty()


async def test_command_answered_in_the_response(slack: SlackStandIn) -> None:
    alice, general = slack.add_user("alice"), slack.add_channel("general")
    command = slack.command_payload("/echo", "hello", alice, general)
    async with running_stack(http_config(slack), record) as stack:
        answer = await post(stack, slack, command, kind="command")
        assert answer.status == 200
        assert answer.content_type == "application/json"
        assert json.loads(answer.body) == {"text": "ok hello"}
        assert (await stack.next_received())["command"] == "/echo"


async def test_bad_requests(slack: SlackStandIn) -> None:
    async with running_stack(http_config(slack, max_payload_bytes=4096), record) as stack:
        assert (await stack.interface.handle_http("GET", {}, b"")).status == 405
        headers, body = slack.http_request({"type": "event_callback", "pad": "x" * 5000})
        assert (await stack.interface.handle_http("POST", headers, body)).status == 413
        headers, body = slack.http_request({"type": "event_callback"})  # no event_id
        assert (await stack.interface.handle_http("POST", headers, body)).status == 400
        assert stack.counters["malformed"] == 1

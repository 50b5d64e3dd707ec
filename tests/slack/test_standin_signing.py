"""Signed Events API requests from the stand-in, checked by slack-sdk's own verifier."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import pytest
from slack_sdk.signature import SignatureVerifier

from telephonist.testing.slack import SlackStandIn


async def test_valid_and_broken_signatures(slack: SlackStandIn) -> None:
    verifier = SignatureVerifier(slack.signing_secret)
    payload = slack.event_callback({"type": "app_home_opened", "user": "U1"})
    headers, body = slack.http_request(payload)
    assert verifier.is_valid_request(body, headers)
    assert json.loads(body)["event_id"] == payload["event_id"]
    for tamper in ("forged", "stale", "tampered", "unsigned"):
        headers, body = slack.http_request(payload, tamper=tamper)  # type: ignore[arg-type]
        assert not verifier.is_valid_request(body, headers), tamper


async def test_command_and_interactive_bodies_are_forms(slack: SlackStandIn) -> None:
    alice, general = slack.add_user("alice"), slack.add_channel("general")
    command = slack.command_payload("/deploy", "now", alice, general)
    headers, body = slack.http_request(command, kind="command")
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(body.decode())["command"] == ["/deploy"]
    headers, body = slack.http_request({"type": "shortcut"}, kind="interactive")
    assert json.loads(parse_qs(body.decode())["payload"][0]) == {"type": "shortcut"}
    assert SignatureVerifier(slack.signing_secret).is_valid_request(body, headers)


async def test_retry_headers(slack: SlackStandIn) -> None:
    headers, _ = slack.http_request({}, retry_num=2, retry_reason="http_error")
    assert headers["X-Slack-Retry-Num"] == "2"
    assert headers["X-Slack-Retry-Reason"] == "http_error"
    with pytest.raises(ValueError, match="kind"):
        slack.http_request({}, kind="bogus")


async def test_post_sends_signed_requests_to_an_app(slack: SlackStandIn) -> None:
    """``post`` against a minimal app endpoint that checks signatures with slack-sdk."""
    from aiohttp import web

    verifier = SignatureVerifier(slack.signing_secret)
    seen: list[dict[str, str]] = []

    async def endpoint(request: web.Request) -> web.Response:
        body = await request.read()
        seen.append(dict(request.headers))
        if not verifier.is_valid_request(body, dict(request.headers)):
            return web.Response(status=401)
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/slack/events", endpoint)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        url = f"http://127.0.0.1:{port}/slack/events"
        payload = slack.event_callback({"type": "app_home_opened", "user": "U1"})
        assert (await slack.post(url, payload))[0] == 200
        assert (await slack.post(url, payload, tamper="forged"))[0] == 401
        status, _ = await slack.post(url, payload, retry_num=1, retry_reason="http_timeout")
        assert status == 200
        assert seen[-1]["X-Slack-Retry-Num"] == "1"
    finally:
        await runner.cleanup()

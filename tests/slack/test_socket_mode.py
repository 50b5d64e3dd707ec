"""The Socket Mode supervisor against each disconnect reason, a stale link, and its pure
decisions."""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from telephonist.interfaces.slack.policy import backoff_delay, on_disconnect
from telephonist.routing import route
from telephonist.testing.slack import SlackStandIn
from tests.slack.stack import SlackStack, config_for, recorder, running_stack


def record(ref: list[SlackStack]) -> list[Any]:
    return [route("slack.message", recorder(ref))]


def socket_status(stack: SlackStack) -> dict[str, Any]:
    status: dict[str, Any] = stack.interface.status()["socket_mode"]
    return status


@pytest.mark.parametrize("reason", ["warning", "refresh_requested"])
async def test_refresh_opens_the_new_link_before_closing_the_old(
    slack: SlackStandIn, reason: str
) -> None:
    alice, general = slack.add_user("alice"), slack.add_channel("general")
    async with running_stack(config_for(slack), record) as stack:
        [old] = await slack.wait_connected(1)
        await slack.disconnect(reason, old)
        # The replacement says hello while the old link is still open (no gap)...
        await slack.wait_until(lambda: len(slack.socket.live_links()) == 2)
        assert not old.closed.is_set()
        # ...and the old one is then closed, by us, before Slack's grace ran out.
        await slack.wait_until(lambda: old.closed.is_set())
        [new] = slack.socket.live_links()
        assert new is not old
        assert new.opened - old.opened < slack.socket.refresh_grace
        delivery = slack.message("after", alice, general)
        assert (await stack.next_received())["text"] == "after"
        await delivery.acked()
        assert delivery.acked_on == new.id
        assert len(delivery.attempts) == 1
        status = socket_status(stack)
        assert status["state"] == "running"
        assert status["last_disconnect"] == reason
        assert status["reconnects"] == 1
        assert stack.counters[f"disconnect.{reason}"] == 1


async def test_envelope_in_flight_on_a_draining_link_is_acked_there(slack: SlackStandIn) -> None:
    alice, general = slack.add_user("alice"), slack.add_channel("general")
    async with running_stack(config_for(slack), record) as stack:
        [old] = await slack.wait_connected(1)
        await slack.disconnect("warning", old)
        delivery = slack.message("during the refresh", alice, general)  # still on old
        assert (await stack.next_received())["text"] == "during the refresh"
        await delivery.acked()
        assert len(delivery.attempts) == 1  # no redelivery, so no duplicate
        await slack.wait_until(lambda: old.closed.is_set())


async def test_too_many_websockets_backs_off(slack: SlackStandIn) -> None:
    async with running_stack(config_for(slack, too_many_backoff=0.5), record) as stack:
        [first] = await slack.wait_connected(1)
        closed_at = time.monotonic()
        await slack.disconnect("too_many_websockets", first)
        [second] = await slack.wait_connected(1)
        assert second is not first
        assert second.opened - closed_at >= 0.45
        assert socket_status(stack)["state"] == "running"


async def test_link_disabled_stops_reconnecting(slack: SlackStandIn) -> None:
    async with running_stack(config_for(slack), record) as stack:
        [link] = await slack.wait_connected(1)
        await slack.disconnect("link_disabled", link)
        await slack.wait_until(lambda: link.closed.is_set())
        await stack.counted("links_closed")
        assert socket_status(stack)["state"] == "disabled"
        assert slack.socket.live_links() == []
        opened = len(slack.calls_to("apps.connections.open"))
        assert opened == 1  # and it asks for no new URL


async def test_stale_link_is_replaced(slack: SlackStandIn) -> None:
    config = config_for(slack, ping_interval=0.2, stale_after=0.8)
    alice, general = slack.add_user("alice"), slack.add_channel("general")
    async with running_stack(config, record) as stack:
        [link] = await slack.wait_connected(1)
        frozen_at = time.monotonic()
        await slack.freeze(link)
        await slack.wait_until(
            lambda: [k for k in slack.socket.live_links() if k is not link and k.opened > frozen_at]
        )
        assert time.monotonic() - frozen_at < 0.8 + 2.0  # stale_after plus a reconnect
        await stack.counted("links_stale")
        slack.message("still here", alice, general)
        assert (await stack.next_received())["text"] == "still here"


async def test_several_connections(slack: SlackStandIn) -> None:
    async with running_stack(config_for(slack, connections=3), record) as stack:
        links = await slack.wait_connected(3)
        await stack.until(lambda: len(socket_status(stack)["links"]) == 3)
        await slack.disconnect("refresh_requested", links[0])
        await slack.wait_until(
            lambda: links[0].closed.is_set() and len(slack.socket.live_links()) == 3
        )


@given(st.sampled_from(["warning", "refresh_requested", "something_new"]))
def test_refresh_reasons_replace_first(reason: str) -> None:
    decision = on_disconnect(reason, 30)
    assert decision.replace_first
    assert not decision.close_now
    assert not decision.stop


def test_other_reasons() -> None:
    assert on_disconnect("link_disabled", 30).stop
    too_many = on_disconnect("too_many_websockets", 30)
    assert (too_many.close_now, too_many.pause, too_many.stop) == (True, 30, False)


@given(st.integers(0, 100), st.floats(0.01, 5), st.floats(5, 120), st.floats(0, 0.999))
def test_backoff_is_bounded(failures: int, low: float, high: float, rand: float) -> None:
    delay = backoff_delay(failures, low, high, rand)
    assert 0 <= delay <= high
    assert delay <= low * 2**failures + 1e-9

"""The delivery promise: 451 when the layer cannot take the message, and the sender's
retry arrives; partial deliveries are not duplicated by the retry."""

from __future__ import annotations

from typing import Any

import pytest

from telephonist.core.exceptions import LayerUnavailable
from telephonist.core.memory import InMemoryChannelLayer
from telephonist.routing import route
from tests.email.clients import swaks
from tests.email.stack import Stack, recorder, running_stack

BASE: dict[str, Any] = {"port": 0, "domains": ["example.org"]}
MAIL = ("--from", "ann@example.com", "--header", "Subject: retried", "--body", "hello")


def routes(ref: list[Stack]) -> list[Any]:
    return [route("email.receive", recorder(ref))]


async def test_full_layer_gives_451_and_the_retry_arrives() -> None:
    layer = InMemoryChannelLayer(channel_capacity={"email.receive": 1})
    async with running_stack(BASE, layer=layer) as stack:
        await layer.send("email.receive", {"type": "filler"})  # the channel is now full
        first = await swaks("--port", str(stack.port), "--to", "a@example.org", *MAIL)
        assert first.code == 26, first.transcript  # rejected after DATA
        assert first.replies("451")
        assert stack.counters["rejected_layer_full"] == 1
        # A worker starts and empties the channel; the sender retries and gets 250.
        await stack.start_worker(routes([stack]))
        assert (await stack.next_received())["type"] == "filler"
        retry = await swaks("--port", str(stack.port), "--to", "a@example.org", *MAIL)
        assert retry.code == 0, retry.transcript
        msg = await stack.next_received()
    assert msg["subject"] == "retried"
    assert msg["text"] == "hello"


async def test_partial_delivery_is_completed_not_duplicated_by_the_retry(tmp_path: Any) -> None:
    # An MTA retries with the very same bytes: a fixed message, not one swaks dates anew.
    eml = tmp_path / "mail.eml"
    eml.write_bytes(
        b"From: ann@example.com\r\nSubject: retried\r\nMessage-ID: <p1@x>\r\n\r\nhello\r\n"
    )
    layer = InMemoryChannelLayer(channel_capacity={"email.receive": 2})
    # "queued": a@ counts as delivered once on the layer (with "consumed", only once its
    # consumer returned: tests/email/test_acknowledge.py).
    async with running_stack({**BASE, "acknowledge": "queued"}, layer=layer) as stack:
        await layer.send("email.receive", {"type": "filler"})  # room for one more only
        rcpts = ("--to", "a@example.org,b@example.org", "--from", "ann@example.com",
                 "--data", f"@{eml}")  # fmt: skip
        first = await swaks("--port", str(stack.port), *rcpts)
        assert first.replies("451"), first.transcript
        await stack.start_worker(routes([stack]))
        got = [await stack.next_received() for _ in range(2)]  # filler and a@
        retry = await swaks("--port", str(stack.port), *rcpts)
        assert retry.code == 0, retry.transcript
        got.append(await stack.next_received())  # b@ only
        assert stack.received.empty()
        assert stack.counters["duplicates_skipped"] == 1
    assert [m.get("to") for m in got] == [None, "a@example.org", "b@example.org"]


class _UnreachableLayer(InMemoryChannelLayer):
    """The in-memory layer with its backing store "down" for one channel."""

    down = True

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        if self.down and channel == "email.receive":
            raise LayerUnavailable("backing store unreachable (test)")
        await super().send(channel, message)


async def test_unreachable_layer_gives_451(caplog: pytest.LogCaptureFixture) -> None:
    layer = _UnreachableLayer()
    async with running_stack(BASE, routes, layer=layer) as stack:
        for _ in range(2):
            result = await swaks("--port", str(stack.port), "--to", "a@example.org", *MAIL)
            assert result.code == 26, result.transcript
            assert result.replies("451")
        layer.down = False
        result = await swaks("--port", str(stack.port), "--to", "a@example.org", *MAIL)
        assert result.code == 0, result.transcript
        assert (await stack.next_received())["subject"] == "retried"
    # One line when the outage starts, one when it ends: not one per refused mail.
    outage = [r.getMessage() for r in caplog.records if "channel layer" in r.getMessage()]
    assert len(outage) == 2, outage
    assert "unreachable: LayerUnavailable" in outage[0]
    assert "2 operations failed meanwhile" in outage[1]

"""What ``250`` means: with ``acknowledge = "consumed"`` (the default) the consumer has
the mail and returned; anything else is ``451`` (retry) or ``550`` (no such mailbox).
Real host, real worker, real smtplib clients over loopback."""

from __future__ import annotations

import asyncio
import smtplib
import time
from typing import Any

import pytest

from telephonist.consumers import Message
from telephonist.routing import route
from telephonist.spec.completion import DONE
from tests.email.clients import send, smtp_client
from tests.email.stack import Stack, running_stack

BASE: dict[str, Any] = {"port": 0, "domains": ["example.org"], "ack_timeout": 5.0}
MAIL = b"From: ann@example.com\r\nSubject: hi\r\n\r\nhello\r\n"


def _send(stack: Stack, rcpt: str = "room-a@example.org") -> asyncio.Future[Any]:
    return asyncio.ensure_future(
        asyncio.to_thread(send, stack.port, "ann@example.com", [rcpt], MAIL)
    )


async def test_250_only_after_the_consumer_returned() -> None:
    got: asyncio.Queue[str] = asyncio.Queue()
    release = asyncio.Event()

    async def slow(message: Message) -> None:
        await got.put(message.content["to"])
        await release.wait()

    async with running_stack(BASE, lambda ref: [route("email.receive", slow)]) as stack:
        client = _send(stack)
        async with asyncio.timeout(15):
            assert await got.get() == "room-a@example.org"
        # The consumer holds the mail: the sender has no answer yet.
        assert not client.done()
        release.set()
        async with asyncio.timeout(15):
            assert await client == {}  # 250 for every recipient
        assert stack.counters["received"] == 1


async def test_consumer_error_gives_451_and_the_retry_is_consumed() -> None:
    calls: list[str] = []

    async def flaky(message: Message) -> None:
        calls.append(message.content["subject"])
        if len(calls) == 1:
            raise RuntimeError("database down (test)")

    async with running_stack(BASE, lambda ref: [route("email.receive", flaky)]) as stack:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            await _send(stack)
        assert refused.value.smtp_code == 451
        assert stack.counters["rejected_consumer_error"] == 1
        assert await _send(stack) == {}
    assert calls == ["hi", "hi"]  # at-least-once: the retry is consumed again


async def test_mail_no_route_takes_gets_550_never_250() -> None:
    async def room(message: Message) -> None:
        pass

    routes = lambda ref: [route("email.receive", room, to=r"^room-")]  # noqa: E731
    async with running_stack(BASE, routes) as stack:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            await _send(stack, "nobody@example.org")
        assert refused.value.smtp_code == 550
        assert b"5.1.1" in refused.value.smtp_error
        assert stack.counters["rejected_no_route"] == 1
        assert stack.worker is not None
        assert stack.worker.dispatcher.counters()["no_route"] == 1


async def test_no_completion_within_ack_timeout_gives_451() -> None:
    # No worker at all: the event waits on the layer and nobody reports on it.
    async with running_stack({**BASE, "ack_timeout": 0.3}) as stack:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            await _send(stack)
        assert refused.value.smtp_code == 451
        assert stack.counters["rejected_ack_timeout"] == 1
        assert len(stack.interface.replies) == 0  # its reply channel is gone too


async def test_queued_answers_before_the_consumer_runs() -> None:
    async with running_stack({**BASE, "acknowledge": "queued"}) as stack:
        assert await _send(stack) == {}  # no worker: 250 all the same
        event = await stack.layer.receive("email.receive")
        assert event["completion"] is True
        # What the worker says later is still counted: here, that nothing routed it.
        await stack.layer.send(event["reply_channel"], {"type": DONE, "outcome": "no_route"})
        deadline = time.monotonic() + 15
        while "queued_then_no_route" not in stack.counters:
            assert time.monotonic() < deadline, stack.counters
            await asyncio.sleep(0.01)  # the poll interval of a bounded wait
        assert len(stack.interface.replies) == 0


async def test_recipient_patterns_refuse_unserved_addresses_at_rcpt() -> None:
    config = {**BASE, "recipients": [r"^room-[-a-z0-9_]{1,50}@example\.org$"]}

    def rcpt(port: int, address: str) -> tuple[int, bytes]:
        with smtp_client(port) as client:
            client.mail("ann@example.com")
            return client.rcpt(address)

    async with running_stack(config) as stack:
        code, text = await asyncio.to_thread(rcpt, stack.port, "nobody@example.org")
        assert (code, text[:5]) == (550, b"5.1.1")
        code, _ = await asyncio.to_thread(rcpt, stack.port, "Room-Kitchen@example.org")
        assert code == 250  # addresses compare in lower case
        code, text = await asyncio.to_thread(rcpt, stack.port, "room-a@elsewhere.test")
        assert (code, text[:5]) == (550, b"5.7.1")  # not ours at all: relaying denied
        assert stack.counters["rejected_unknown_recipient"] == 1


@pytest.mark.parametrize("acknowledge", ["consumed", "queued"])
async def test_no_per_mail_state_once_consumed(acknowledge: str) -> None:
    """A mail nobody answers leaves nothing behind: no reply channel, no runner, no
    affinity binding (issue: each mail used to hold its reply channel for an hour)."""
    seen: asyncio.Queue[None] = asyncio.Queue()

    async def quiet(message: Message) -> None:
        await seen.put(None)

    config = {**BASE, "acknowledge": acknowledge}
    async with running_stack(config, lambda ref: [route("email.receive", quiet)]) as stack:
        for _ in range(3):
            await asyncio.gather(*(_send(stack) for _ in range(10)))
        async with asyncio.timeout(15):
            for _ in range(30):
                await seen.get()
        # queued: the last completions may still be on their way
        deadline = time.monotonic() + 15
        while len(stack.interface.replies):
            assert time.monotonic() < deadline, "reply channels still open"
            await asyncio.sleep(0.01)  # the poll interval of a bounded wait
        status = stack.host.status()
        assert status["interfaces"]["email"]["connections"] == 0
        assert stack.worker is not None
        assert stack.worker.counters["completions"] == 30
        assert stack.worker.status()["affinity"].get("connections", 0) in (0, {})


def test_a_reply_window_shorter_than_the_wait_for_the_consumer_is_refused() -> None:
    """The completion comes back on the mail's reply channel: a window that closed it
    before ``ack_timeout`` would answer 451 for a mail its consumer was still handling."""
    from pydantic import ValidationError

    from telephonist.interfaces.email.config import EmailConfig

    with pytest.raises(ValidationError, match=r"reply_window \(1\) must be at least ack_timeout"):
        EmailConfig(domains=["example.org"], reply_window=1, ack_timeout=10)
    # Equal is enough, and with "queued" nobody waits on the channel.
    assert EmailConfig(domains=["example.org"], reply_window=10, ack_timeout=10)
    assert EmailConfig(domains=["example.org"], reply_window=1, acknowledge="queued")

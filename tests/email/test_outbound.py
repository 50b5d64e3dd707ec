"""Outbound mail into real servers: a private Postfix (STARTTLS, Maildir read back) and
smtp-sink (450 injected: retried and delivered once the fault is gone; 5xx: reported)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from telephonist.routing import route
from tests.email.conftest import Certs
from tests.email.peers import PostfixServer, SmtpSink, need_postfix
from tests.email.stack import Stack, recorder, running_stack


@pytest.fixture
def postfix(certs: Certs) -> Iterator[PostfixServer]:
    need_postfix()
    server = PostfixServer(cert=certs.cert, key=certs.key).start()
    yield server
    server.stop()


def config(port: int, **relay: Any) -> dict[str, Any]:
    return {
        "port": 0,
        "domains": ["example.org"],
        "default_from": "robot@example.org",
        "failure_channel": "email.failures",
        "relay": {"host": "127.0.0.1", "port": port, "helo_name": "telephonist.test",
                  "backoff_base": 0.05, "backoff_max": 0.2, "timeout": 10, **relay},
    }  # fmt: skip


async def until(stack: Stack, counter: str, n: int, within: float = 20) -> None:
    """Wait for an interface counter to reach ``n``, woken by the outbox queue's changes."""
    outbox = stack.interface.outbox
    assert outbox is not None
    async with asyncio.timeout(within):
        while stack.counters.get(counter, 0) < n:
            await outbox.queue.wait_change()


def failures(ref: list[Stack]) -> list[Any]:
    return [route("email.failures", recorder(ref))]


async def test_email_send_through_postfix_with_starttls(
    postfix: PostfixServer, certs: Certs
) -> None:
    async with running_stack(config(postfix.port, ca_file=certs.ca), failures) as stack:
        await stack.layer.send("email.send", {
            "type": "email.send", "id": "m-1", "to": ["Ann <ann@example.com>"],
            "bcc": "audit@example.net", "subject": "Caf\u00e9 is open\r\nBcc: evil@x.test",
            "text": "Come in.", "html": "<p>Come in.</p>",
            "attachments": [{"name": "menu.txt", "content": b"tea\n"}],
            "headers": {"X-Ticket": "42"},
        })  # fmt: skip
        delivered = await asyncio.to_thread(postfix.wait_messages, 2)
        assert stack.counters["sent"] == 2
    by_rcpt = {m["Delivered-To"]: m for m in delivered}
    assert set(by_rcpt) == {"ann@example.com", "audit@example.net"}
    mail = by_rcpt["ann@example.com"]
    assert mail["Subject"] == "Caf\u00e9 is open  Bcc: evil@x.test"  # no injected header
    assert mail["From"] == "robot@example.org"
    assert mail["To"] == "Ann <ann@example.com>"
    assert mail["X-Ticket"] == "42"
    assert "Bcc" not in mail
    assert "evil@x.test" not in postfix.log()
    assert "using TLS" in str(mail["Received"])  # Postfix notes the STARTTLS session
    body = mail.get_body(("plain",))
    assert body is not None
    assert body.get_content().strip() == "Come in."
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_filename() == "menu.txt"


async def test_relay_4xx_is_retried_and_delivered_once_the_fault_is_gone() -> None:
    need_postfix()
    sink = SmtpSink(soft=("RCPT",)).start()
    try:
        async with running_stack(config(sink.port, tls="none", max_attempts=1000),
                                 failures) as stack:  # fmt: skip
            await stack.layer.send("email.send", {"to": "ann@example.com", "subject": "later",
                                                  "text": "eventually"})  # fmt: skip
            # The sink answers 450 to RCPT: wait (without sleeping) for a retry to happen.
            await until(stack, "send_retries", 2)
            assert stack.counters.get("sent", 0) == 0
            sink.stop(remove=False)
            sink = SmtpSink(port=sink.port, directory=sink.directory).start()  # fault removed
            await until(stack, "sent", 1)
            assert stack.received.empty()  # nothing was reported as failed
        [dump] = sink.transactions()
        assert b"Subject: later" in dump
        assert b"eventually" in dump
    finally:
        sink.stop()


async def test_relay_5xx_is_reported() -> None:
    need_postfix()
    sink = SmtpSink(hard=("RCPT",)).start()
    try:
        async with running_stack(config(sink.port, tls="none"), failures) as stack:
            await stack.layer.send("email.send", {"id": "doomed", "to": "nobody@example.com",
                                                  "text": "x"})  # fmt: skip
            report = await stack.next_received()
            assert stack.counters["send_failed"] == 1
            assert stack.counters.get("send_retries", 0) == 0
    finally:
        sink.stop()
    assert report["type"] == "email.send.failed"
    assert report["id"] == "doomed"
    assert report["permanent"] is True
    assert 500 <= report["code"] < 600
    assert report["recipients"] == ["nobody@example.com"]


async def test_invalid_send_messages_are_reported_not_sent() -> None:
    need_postfix()
    sink = SmtpSink().start()
    try:
        async with running_stack(config(sink.port, tls="none"), failures) as stack:
            await stack.layer.send("email.send", {"id": "bad", "to": "a@b.c\r\nBcc: x@y.z"})
            report = await stack.next_received()
    finally:
        sink.stop()
    assert report["id"] == "bad"
    assert "invalid message" in report["error"]
    assert report["permanent"] is True

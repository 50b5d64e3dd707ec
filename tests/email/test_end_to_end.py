"""End to end: a mail in by swaks, routed by recipient to a ChatConsumer subclass whose
reply goes out by mail through Postfix; and Postfix as a real retrying sender meeting our
451 when the layer is full."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from telephonist.consumers import ChatConsumer
from telephonist.core.memory import InMemoryChannelLayer
from telephonist.routing import route, route_class
from tests.email.clients import swaks
from tests.email.conftest import Certs
from tests.email.peers import PostfixServer, need_postfix
from tests.email.stack import Stack, recorder, running_stack


class SupportDesk(ChatConsumer):
    """The same consumer could answer WebSocket or IRC users: it only sees the chat keys."""

    chat_channels = {"email.receive"}

    def on_chat(self, text: str, user: str, room: str) -> None:
        self.reply(f"Hello {user}, {room} got: {text}")


class SalesDesk(ChatConsumer):
    chat_channels = {"email.receive"}

    def on_chat(self, text: str, user: str, room: str) -> None:
        self.reply({"text": "Sales here.", "html": "<p>Sales here.</p>"})


@pytest.fixture
def postfix(certs: Certs) -> Iterator[PostfixServer]:
    need_postfix()
    server = PostfixServer(cert=certs.cert, key=certs.key).start()
    yield server
    server.stop()


def routes(ref: list[Stack]) -> list[Any]:
    return [
        route_class(SupportDesk, to=r"^support@"),
        route_class(SalesDesk, to=r"^sales@", subject=r"(?i).*\bquote\b"),
        route("email.receive", recorder(ref)),  # everything else
    ]


async def test_chat_consumer_replies_by_mail(postfix: PostfixServer, certs: Certs) -> None:
    config = {
        "port": 0, "domains": ["example.org"], "reply_senders": ["@example.com"],
        "relay": {"host": "127.0.0.1", "port": postfix.port, "ca_file": certs.ca},
    }  # fmt: skip
    async with running_stack(config, routes) as stack:
        result = await swaks(
            "--port", str(stack.port), "--from", "ann@example.com", "--to", "support@example.org",
            "--header", "Subject: Printer on fire", "--header", "Message-Id: <fire-1@example.com>",
            "--header", "References: <older@example.com>",
            "--body", "It is burning.\n\nOn Mon, 1 Jan 2024, IT <it@example.org> wrote:\n> ok",
        )  # fmt: skip
        assert result.code == 0, result.transcript
        result = await swaks(
            "--port", str(stack.port), "--from", "bob@example.com", "--to", "sales@example.org",
            "--header", "Subject: Need a QUOTE", "--body", "How much?",
        )  # fmt: skip
        assert result.code == 0, result.transcript
        # Sales without "quote" in the subject falls through to the catch-all route.
        result = await swaks(
            "--port", str(stack.port), "--from", "cy@example.com", "--to", "sales@example.org",
            "--header", "Subject: hello", "--body", "hi",
        )  # fmt: skip
        assert result.code == 0, result.transcript
        other = await stack.next_received()
        delivered = await asyncio.to_thread(postfix.wait_messages, 2)
    assert other["user"] == other["user_id"] == "cy@example.com"  # no display name
    by_rcpt = {m["Delivered-To"]: m for m in delivered}
    reply = by_rcpt["ann@example.com"]
    assert reply["From"] == "support@example.org"
    assert reply["To"] == "ann@example.com"
    assert reply["Subject"] == "Re: Printer on fire"
    assert reply["In-Reply-To"] == "<fire-1@example.com>"
    assert reply["References"] == "<older@example.com> <fire-1@example.com>"
    assert reply["Auto-Submitted"] == "auto-replied"
    assert "using TLS" in str(reply["Received"])
    body = reply.get_body(("plain",))
    assert body is not None
    assert body.get_content().strip() == (
        "Hello ann@example.com, support@example.org got: It is burning."
    )
    sales = by_rcpt["bob@example.com"]
    assert sales["From"] == "sales@example.org"
    assert sales["Subject"] == "Re: Need a QUOTE"
    html = sales.get_body(("html",))
    assert html is not None
    assert "<p>Sales here.</p>" in html.get_content()


async def test_postfix_retries_after_our_451_and_the_mail_arrives() -> None:
    need_postfix()
    layer = InMemoryChannelLayer(channel_capacity={"email.receive": 1})
    async with running_stack({"port": 0, "domains": ["example.org"]}, layer=layer) as stack:
        await layer.send("email.receive", {"type": "filler"})  # full
        sender = PostfixServer(relayhost=f"[127.0.0.1]:{stack.port}").start()
        try:
            await asyncio.to_thread(
                _submit, sender.port, "ann@example.com", "room@example.org", "retry me"
            )
            # Postfix tries, gets 451 and defers the mail (it stays in its queue).
            await asyncio.to_thread(sender.wait_log, "status=deferred")
            assert "451" in sender.log()
            assert stack.counters["rejected_layer_full"] >= 1
            await stack.start_worker([route("email.receive", recorder([stack]))])
            assert (await stack.next_received())["type"] == "filler"
            await asyncio.to_thread(sender.flush)  # retry now instead of in a second
            msg = await stack.next_received(within=30)
        finally:
            sender.stop()
    assert msg["subject"] == "retry me"
    assert msg["to"] == "room@example.org"


def _submit(port: int, sender: str, rcpt: str, subject: str) -> None:
    import smtplib

    with smtplib.SMTP("127.0.0.1", port, timeout=15) as client:
        client.sendmail(sender, [rcpt], f"From: {sender}\r\nSubject: {subject}\r\n\r\nbody\r\n")

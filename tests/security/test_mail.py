"""Mail cannot be turned against third parties (docs/security.md, "Mail").

The reflector of issue 17: mails to a room, each with ``Reply-To: victim``, and a chat
consumer that answers and talks to the room. Before, each mail's reply channel joined
the room, so 5 mails in made 15 mails out, to the victim. Now unauthenticated mail gets
no reply at all, authenticated mail gets one reply each, to its envelope sender only,
within a per-recipient rate, and relay-style addresses are refused at the command.
Real clients (swaks, smtplib) and a real sink (a private Postfix) throughout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from telephonist.consumers import ChatConsumer
from telephonist.routing import route_class
from tests.email.clients import in_thread, send, smtp_client, swaks
from tests.email.conftest import Certs
from tests.email.peers import PostfixServer, need_postfix
from tests.email.stack import Stack, running_stack

TIMEOUT = 30.0
VICTIM = "victim@elsewhere.example"


class Room(ChatConsumer):
    """What a chat room does with every line: answer the speaker, tell the room."""

    def on_chat(self, text: str, user: str, room: str) -> None:
        self.reply(f"got: {text}")
        self.say(room, f"{user}: {text}")


def routes(ref: list[Stack]) -> list[Any]:
    return [route_class(Room, to=r"^room-(?P<room>\w+)@")]


@pytest.fixture
def postfix(certs: Certs) -> Iterator[PostfixServer]:
    need_postfix()
    server = PostfixServer(cert=certs.cert, key=certs.key).start()
    yield server
    server.stop()


def _config(certs: Certs, postfix: PostfixServer, **extra: Any) -> dict[str, Any]:
    return {
        "port": 0, "domains": ["example.org"], "tls_cert": certs.cert, "tls_key": certs.key,
        "auth_users": {"ann": "ann-password"},
        "relay": {"host": "127.0.0.1", "port": postfix.port, "ca_file": certs.ca}, **extra,
    }  # fmt: skip


def _mail(n: int) -> str:
    return (
        f"From: ann@example.com\r\nReply-To: {VICTIM}\r\nTo: room-lobby@example.org\r\n"
        f"Subject: line {n}\r\nMessage-ID: <line-{n}@example.com>\r\n\r\nhello {n}\r\n"
    )


async def _until(stack: Stack, counter: str, n: int) -> None:
    async with asyncio.timeout(TIMEOUT):
        while stack.counters.get(counter, 0) < n:  # noqa: ASYNC110 (a counter, no event)
            await asyncio.sleep(0.02)


async def _drained(stack: Stack) -> None:
    outbox = stack.interface.outbox
    assert outbox is not None
    async with asyncio.timeout(TIMEOUT):
        while any(outbox.status()[k] for k in ("ready", "retrying", "sending")):  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def test_unauthenticated_mail_gets_no_reply_at_all(
    certs: Certs, postfix: PostfixServer
) -> None:
    async with running_stack(_config(certs, postfix), routes) as stack:
        for n in range(5):
            await in_thread(lambda n=n: send(  # type: ignore[misc]
                stack.port, "ann@example.com", ["room-lobby@example.org"], _mail(n)
            ))  # fmt: skip
        await _until(stack, "reply_suppressed", 5)
        await _drained(stack)
        counters = stack.counters
    assert counters.get("replies", 0) == 0
    assert postfix.messages() == []  # the sink received nothing: 5 in, 0 out


async def test_authenticated_mail_gets_one_reply_each_to_its_sender(
    certs: Certs, postfix: PostfixServer
) -> None:
    async with running_stack(_config(certs, postfix), routes) as stack:
        for n in range(5):
            result = await swaks(
                "--port", str(stack.port), "--tls", "--auth", "PLAIN", "--auth-user", "ann",
                "--auth-password", "ann-password", "--from", "ann@example.com",
                "--to", "room-lobby@example.org", "--data", _mail(n).replace("\r\n", "\n"),
            )  # fmt: skip
            assert result.code == 0, result.transcript
        delivered = await asyncio.to_thread(postfix.wait_messages, 5)
        await _until(stack, "replies", 5)
        await _drained(stack)
        counters = stack.counters
    # 5 in, 5 out (not 15: the mails' reply channels did not join the room).
    assert len(postfix.messages()) == 5
    assert {m["To"] for m in delivered} == {"ann@example.com"}
    assert all(m["Delivered-To"] != VICTIM for m in delivered)
    assert counters["replies"] == 5


async def test_replies_are_rate_limited_per_recipient(certs: Certs, postfix: PostfixServer) -> None:
    config = _config(certs, postfix, reply_senders=["@example.com"], reply_rate=2)
    async with running_stack(config, routes) as stack:
        for n in range(5):
            await in_thread(lambda n=n: send(  # type: ignore[misc]
                stack.port, "ann@example.com", ["room-lobby@example.org"], _mail(n)
            ))  # fmt: skip
        await _until(stack, "reply_rate_limited", 3)
        delivered = await asyncio.to_thread(postfix.wait_messages, 2)
        await _drained(stack)
        counters = stack.counters
    assert counters["replies"] == 2
    assert len(postfix.messages()) == 2
    assert {m["To"] for m in delivered} == {"ann@example.com"}  # allow-listed, not the victim


@pytest.mark.parametrize(
    ("args", "code", "answer"),
    [
        (("--to", "a%elsewhere.example@example.org"), 24, "553 5.1.3"),
        (("--to", "elsewhere.example!a@example.org"), 24, "553 5.1.3"),
        (("--to", "@relay.example:a@example.org"), 24, "501 5.1.3"),
        (("--to", "x" * 65 + "@example.org"), 24, "501 5.1.3"),
        (("--to", '"a@elsewhere"@example.org'), 24, "553 5.1.3"),
        (("--from", "b%elsewhere.example@example.com"), 23, "553 5.1.7"),
        (("--from", "@relay.example:b@example.com"), 23, "501 5.1.7"),
    ],
)
async def test_relay_forms_of_addresses_are_refused(
    args: tuple[str, ...], code: int, answer: str
) -> None:
    defaults = {"--to": "room-lobby@example.org", "--from": "b@example.com"}
    defaults[args[0]] = args[1]
    async with running_stack({"port": 0, "domains": ["example.org"]}) as stack:
        result = await swaks("--port", str(stack.port), *(x for kv in defaults.items() for x in kv))
        counters = stack.counters
    assert result.code == code, result.transcript
    assert any(line.startswith(answer) for line in result.replies("5")), result.transcript
    assert counters["rejected_address"] == 1


async def test_no_relay_and_no_auth_in_clear(certs: Certs) -> None:
    config = {"port": 0, "domains": ["example.org"], "tls_cert": certs.cert,
              "tls_key": certs.key, "auth_users": {"ann": "ann-password"}}  # fmt: skip
    async with running_stack(config) as stack:
        relay = await swaks("--port", str(stack.port), "--to", "someone@elsewhere.example",
                            "--from", "b@example.com")  # fmt: skip
        assert relay.code == 24, relay.transcript
        assert any(line.startswith("550 5.7.1") for line in relay.replies("550"))

        def clear_and_tls() -> tuple[str, tuple[int, bytes], str]:
            with smtp_client(stack.port) as client:
                offered_in_clear = str(client.esmtp_features)
                refused = client.docmd("AUTH", "PLAIN AGFubgBhbm4tcGFzc3dvcmQ=")
            with smtp_client(stack.port, tls="starttls", ca=certs.ca) as client:
                return offered_in_clear, refused, str(client.esmtp_features)

        in_clear, refused, over_tls = await in_thread(clear_and_tls)
    assert "auth" not in in_clear
    assert refused[0] == 538  # encryption required
    assert "auth" in over_tls

"""Inbound SMTP with real clients (smtplib, swaks) into the real host, worker and routing."""

from __future__ import annotations

import asyncio
import smtplib
from typing import Any

import pytest

from telephonist.chat import validate_event
from telephonist.routing import route
from tests.email.clients import in_thread, send, smtp_client, swaks
from tests.email.stack import Stack, recorder, running_stack

BASE: dict[str, Any] = {"port": 0, "domains": ["example.org"], "addresses": ["solo@other.test"]}

MAIL = (
    "From: Ann Example <ann@example.com>\r\n"
    "To: support@example.org\r\n"
    "Subject: =?utf-8?q?Caf=C3=A9?= question\r\n"
    "Message-ID: <q1@example.com>\r\n"
    "\r\n"
    "Is it open?\r\n"
    "\r\n"
    "On Mon, 1 Jan 2024, Bob <bob@example.org> wrote:\r\n"
    "> earlier\r\n"
)


def routes(ref: list[Stack]) -> list[Any]:
    # Routing on recipient, as docs/email.md shows: the mailbox becomes a kwarg.
    return [
        route("email.receive", recorder(ref), to=r"^(?P<mailbox>[^@]+)@example\.org$"),
        route("email.receive", recorder(ref), to=r"^solo@"),
    ]


async def test_plain_delivery_maps_every_key() -> None:
    async with running_stack(BASE, routes) as stack:
        refused = await in_thread(
            lambda: send(stack.port, "ann@example.com", ["Support@Example.ORG"], MAIL)
        )
        assert refused == {}
        msg = await stack.next_received()
    assert msg["type"] == "email.receive"
    assert msg["_kwargs"] == {"mailbox": "support"}
    assert msg["to"] == msg["room"] == "support@example.org"
    assert msg["recipients"] == ["support@example.org"]
    assert msg["sender"] == "ann@example.com"
    assert msg["user"] == msg["user_name"] == "Ann Example"  # the contract: who, by name
    assert msg["user_id"] == "ann@example.com"
    assert msg["subject"] == "Caf\u00e9 question"
    assert msg["message_id"] == "<q1@example.com>"
    assert msg["text"] == "Is it open?"
    assert validate_event(msg)
    assert (msg["kind"], msg["protocol"], msg["room_id"]) == ("message", "email", msg["room"])
    assert msg["plain"].startswith("Is it open?\n")
    assert msg["tls"] is False
    assert msg["auth_user"] is None
    assert msg["peer"] == "127.0.0.1"
    assert msg["reply_channel"].startswith("srv.")
    assert msg["order"] == 0


async def test_one_message_per_recipient() -> None:
    async with running_stack(BASE, routes) as stack:
        rcpts = ["support@example.org", "sales@example.org", "solo@other.test"]
        await in_thread(lambda: send(stack.port, "ann@example.com", rcpts, MAIL))
        got = [await stack.next_received() for _ in rcpts]
    assert sorted(m["room"] for m in got) == sorted(rcpts)
    assert all(m["recipients"] == rcpts for m in got)
    assert len({m["reply_channel"] for m in got}) == 3  # each mailbox answers on its own


async def test_non_local_recipient_is_refused_never_relayed() -> None:
    async with running_stack(BASE, routes) as stack:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as info:
            await in_thread(lambda: send(stack.port, "a@b.c", ["victim@elsewhere.test"], MAIL))
        assert info.value.recipients["victim@elsewhere.test"][0] == 550
        result = await swaks("--port", str(stack.port), "--to", "x@example.org.evil.test",
                             "--from", "a@b.c")  # fmt: skip
        assert result.code == 24, result.transcript
        assert result.replies("550")
        assert stack.counters["rejected_relay"] == 2
        assert stack.received.empty()


async def test_swaks_plain_pipelining_and_attachment(tmp_path: Any) -> None:
    attachment = tmp_path / "report.pdf"
    attachment.write_bytes(b"%PDF-1.4 fake")
    async with running_stack(BASE, routes) as stack:
        result = await swaks(
            "--port", str(stack.port), "--to", "support@example.org", "--from", "ann@example.com",
            "--pipeline", "--header", "Subject: with attachment", "--body", "see attached",
            "--attach-type", "application/pdf", "--attach", f"@{attachment}",
        )  # fmt: skip
        assert result.code == 0, result.transcript
        msg = await stack.next_received()
    assert "250-PIPELINING" in result.transcript
    assert msg["subject"] == "with attachment"
    assert msg["text"] == "see attached"
    [att] = msg["attachments"]
    assert att["name"] == "report.pdf"
    assert att["content_type"] == "application/pdf"
    assert att["content"] == b"%PDF-1.4 fake"


async def test_oversize_gets_552_and_size_is_advertised() -> None:
    async with running_stack({**BASE, "max_message_size": 2048}, routes) as stack:

        def features() -> dict[str, str]:
            with smtp_client(stack.port) as client:
                return dict(client.esmtp_features)

        assert (await in_thread(features))["size"] == "2048"
        result = await swaks("--port", str(stack.port), "--to", "support@example.org",
                             "--from", "a@b.c", "--body", ("x" * 70 + "\n") * 80)  # fmt: skip
        assert result.code in (25, 26), result.transcript
        assert result.replies("552")

        # A client that declares SIZE is refused before sending anything.
        def declare() -> int:
            with smtp_client(stack.port) as client:
                return client.mail("a@b.c", ["SIZE=99999"])[0]

        assert await in_thread(declare) == 552
        assert stack.received.empty()


async def test_too_many_recipients_gets_452() -> None:
    async with running_stack({**BASE, "max_recipients": 2}, routes) as stack:

        def rcpts() -> list[int]:
            with smtp_client(stack.port) as client:
                client.mail("a@b.c")
                return [client.rcpt(f"r{i}@example.org")[0] for i in range(3)]

        assert await in_thread(rcpts) == [250, 250, 452]


async def test_long_command_and_line_limits() -> None:
    async with running_stack({**BASE, "max_line_length": 1001}, routes) as stack:

        def overlong() -> tuple[int, int]:
            with smtp_client(stack.port) as client:
                command = client.docmd("NOOP " + "x" * 600)[0]
                client.mail("a@b.c")
                client.rcpt("support@example.org")
                return command, client.data(b"Subject: long\r\n\r\n" + b"y" * 2000 + b"\r\n")[0]

        assert await in_thread(overlong) == (500, 500)
        assert stack.received.empty()


async def test_null_sender_and_smtputf8_8bit_headers() -> None:
    raw = (
        "From: J\u00f6rg <j\u00f6rg@example.com>\r\nTo: support@example.org\r\n"
        "Subject: Gr\u00fc\u00dfe \u2615\r\n\r\nk\u00e4se\r\n"
    ).encode()
    async with running_stack(BASE, routes) as stack:

        def deliver() -> None:
            with smtp_client(stack.port) as client:
                assert client.has_extn("smtputf8")
                client.sendmail("<>", ["support@example.org"], raw, mail_options=["SMTPUTF8"])

        await in_thread(deliver)
        msg = await stack.next_received()
    assert msg["sender"] is None
    assert msg["user"] == msg["user_name"] == "J\u00f6rg"
    assert msg["user_id"] == "j\u00f6rg@example.com"
    assert msg["is_bot"] is True  # a null sender
    assert msg["subject"] == "Gr\u00fc\u00dfe \u2615"
    assert msg["text"] == "k\u00e4se"


async def test_malformed_mime_is_accepted_and_described(tmp_path: Any) -> None:
    eml = tmp_path / "broken.eml"
    eml.write_bytes(
        b"From: =?utf-8?q?broken <x@y.z>\r\nTo: support@example.org\r\n"
        b'Content-Type: multipart/mixed; boundary="nope"\r\nSubject: broken\r\n\r\n'
        b"--nope\r\nContent-Type: text/plain; charset=bogus\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n!!!notbase64\r\n"
    )
    async with running_stack(BASE, routes) as stack:
        result = await swaks("--port", str(stack.port), "--to", "support@example.org",
                             "--from", "x@y.z", "--data", f"@{eml}")  # fmt: skip
        assert result.code == 0, result.transcript
        msg = await stack.next_received()
    assert msg["subject"] == "broken"
    assert "CloseBoundaryNotFoundDefect" in msg["defects"]


async def test_bare_lf_dot_does_not_end_data() -> None:
    """SMTP smuggling: "\\n.\\n" must not end DATA and start a second transaction."""
    async with running_stack(BASE, routes) as stack:
        reader, writer = await asyncio.open_connection("127.0.0.1", stack.port)

        async def reply() -> bytes:
            line = await reader.readline()
            while line[3:4] == b"-":
                line = await reader.readline()
            return line

        assert (await reply()).startswith(b"220")
        for command in (b"EHLO c.test", b"MAIL FROM:<a@b.c>", b"RCPT TO:<support@example.org>"):
            writer.write(command + b"\r\n")
            assert (await reply()).startswith(b"250")
        writer.write(b"DATA\r\n")
        assert (await reply()).startswith(b"354")
        writer.write(
            b"Subject: first\r\n\r\nbody\n.\nMAIL FROM:<evil@x.test>\nRCPT TO:<solo@other.test>\n"
            b"DATA\nSubject: smuggled\n\nevil\n.\r\n"
        )
        writer.write(b"\r\n.\r\n")
        final = await reply()
        writer.write(b"QUIT\r\n")
        await reply()
        writer.close()
        await writer.wait_closed()
        # One message, to support@ only, with the smuggling attempt inside its body.
        msg = await stack.next_received()
        assert final.startswith(b"250")
        assert msg["to"] == "support@example.org"
        assert msg["subject"] == "first"
        assert "smuggled" in msg["plain"]
        assert stack.received.empty()
        assert stack.counters["received"] == 1


async def test_connection_limit_answers_421() -> None:
    async with running_stack({**BASE, "max_connections": 1}, routes) as stack:
        first = await in_thread(lambda: smtp_client(stack.port))
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", stack.port)
            assert (await reader.readline()).startswith(b"421")
            writer.close()
            await writer.wait_closed()
        finally:
            first.close()


async def test_stop_lets_open_transactions_finish_and_says_421_to_idle_sessions() -> None:
    async with running_stack(BASE, routes) as stack:

        async def session() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
            reader, writer = await asyncio.open_connection("127.0.0.1", stack.port)
            await reader.readline()
            writer.write(b"HELO c.test\r\n")
            await reader.readline()
            return reader, writer

        idle_r, idle_w = await session()
        busy_r, busy_w = await session()
        for command in (b"MAIL FROM:<a@b.c>", b"RCPT TO:<support@example.org>", b"DATA"):
            busy_w.write(command + b"\r\n")
            await busy_r.readline()
        busy_w.write(b"Subject: in flight\r\n\r\nstill typing\r\n")
        stopping = asyncio.ensure_future(stack.interface.stop(10))
        assert (await idle_r.readline()).startswith(b"421")
        busy_w.write(b".\r\n")
        assert (await busy_r.readline()).startswith(b"250")  # the mail is safe
        assert (await busy_r.readline()).startswith(b"421")  # then goodbye
        async with asyncio.timeout(10):
            await stopping
        assert (await stack.next_received())["subject"] == "in flight"
        for w in (idle_w, busy_w):
            w.close()

"""STARTTLS, implicit TLS and AUTH (TLS-only) with swaks and smtplib."""

from __future__ import annotations

import smtplib
from typing import Any

import pytest

from telephonist.routing import route
from tests.email.clients import in_thread, send, smtp_client, swaks
from tests.email.conftest import Certs
from tests.email.stack import Stack, recorder, running_stack


def tls_config(certs: Certs, **extra: Any) -> dict[str, Any]:
    return {"port": 0, "tls_port": 0, "domains": ["example.org"], "tls_cert": certs.cert,
            "tls_key": certs.key, **extra}  # fmt: skip


def routes(ref: list[Stack]) -> list[Any]:
    return [route("email.receive", recorder(ref))]


SWAKS_MAIL = ("--to", "support@example.org", "--from", "ann@example.com")
USERS = {"auth_users": {"robot": "s3cret pass"}}


async def test_starttls_with_swaks(certs: Certs) -> None:
    async with running_stack(tls_config(certs), routes) as stack:
        result = await swaks("--port", str(stack.port), "--tls", *SWAKS_MAIL)
        assert result.code == 0, result.transcript
        msg = await stack.next_received()
    assert msg["tls"] is True


async def test_implicit_tls_with_swaks(certs: Certs) -> None:
    async with running_stack(tls_config(certs), routes) as stack:
        result = await swaks("--port", str(stack.tls_port), "--tls-on-connect", *SWAKS_MAIL)
        assert result.code == 0, result.transcript
        assert "STARTTLS" not in "".join(result.replies("250"))  # already encrypted
        msg = await stack.next_received()
    assert msg["tls"] is True


async def test_smtplib_verifies_our_certificate_over_both_kinds(certs: Certs) -> None:
    async with running_stack(tls_config(certs), routes) as stack:
        for port, tls in ((stack.port, "starttls"), (stack.tls_port, "implicit")):
            await in_thread(lambda p=port, t=tls: send(  # type: ignore[misc]
                p, "a@b.c", ["x@example.org"], "Subject: t\r\n\r\nhi\r\n", tls=t, ca=certs.ca
            ))  # fmt: skip
            assert (await stack.next_received())["tls"] is True


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
async def test_auth_over_starttls_and_smtps(certs: Certs, mechanism: str) -> None:
    async with running_stack(tls_config(certs, **USERS), routes) as stack:
        creds = ("--auth", mechanism, "--auth-user", "robot", "--auth-password", "s3cret pass")
        result = await swaks("--port", str(stack.port), "--tls", *creds, *SWAKS_MAIL)
        assert result.code == 0, result.transcript
        assert (await stack.next_received())["auth_user"] == "robot"
        result = await swaks("--port", str(stack.tls_port), "--tls-on-connect", *creds,
                             *SWAKS_MAIL)  # fmt: skip
        assert result.code == 0, result.transcript
        assert (await stack.next_received())["auth_user"] == "robot"


async def test_auth_is_never_offered_in_clear_and_bad_passwords_fail(certs: Certs) -> None:
    async with running_stack(tls_config(certs, **USERS), routes) as stack:
        plain = await swaks("--port", str(stack.port), "--auth", "PLAIN", "--auth-user", "robot",
                            "--auth-password", "s3cret pass", *SWAKS_MAIL)  # fmt: skip
        assert plain.code == 28, plain.transcript  # swaks: AUTH not offered
        assert not any("AUTH" in line for line in plain.replies("250"))
        bad = ("--auth", "PLAIN", "--auth-user", "robot", "--auth-password", "nope")
        wrong = await swaks("--port", str(stack.port), "--tls", *bad, *SWAKS_MAIL)
        assert wrong.code == 28, wrong.transcript
        assert wrong.replies("535")
        assert stack.received.empty()


async def test_auth_required_and_starttls_required(certs: Certs) -> None:
    config = tls_config(certs, auth_required=True, require_starttls=True, **USERS)
    async with running_stack(config, routes) as stack:

        def attempt() -> tuple[int, int]:
            with smtp_client(stack.port) as client:
                before_tls = client.mail("a@b.c")[0]
            with smtp_client(stack.port, tls="starttls", ca=certs.ca) as client:
                without_auth = client.mail("a@b.c")[0]
            return before_tls, without_auth

        assert await in_thread(attempt) == (530, 530)

        def authenticated() -> None:
            with smtp_client(stack.port, tls="starttls", ca=certs.ca) as client:
                client.login("robot", "s3cret pass")
                client.sendmail("a@b.c", ["x@example.org"], "Subject: in\r\n\r\nok\r\n")

        await in_thread(authenticated)
        assert (await stack.next_received())["auth_user"] == "robot"
        with pytest.raises(smtplib.SMTPAuthenticationError):
            await in_thread(
                lambda: smtp_client(stack.tls_port, tls="implicit", ca=certs.ca).login("x", "y")
            )

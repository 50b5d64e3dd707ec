"""``RelayClient``: hands one composed mail to the configured SMTP relay.

It runs the stdlib's ``smtplib`` (a complete, well-tested client with STARTTLS, AUTH,
SMTPUTF8 and pipelining-safe command handling) in a small dedicated thread pool, so a
slow relay never blocks the event loop and never takes threads from the pool that runs
sync consumers. Every socket operation has ``timeout``, so each attempt is bounded.

The result is per recipient, because SMTP answers per recipient: some may be accepted
while others get 4xx (retry just those) or 5xx (report just those).
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from .compose import OutboundMail
from .config import RelayConfig

__all__ = ["Attempt", "RelayClient"]


@dataclass(slots=True)
class Attempt:
    """Outcome of one delivery attempt."""

    delivered: list[str] = field(default_factory=list)
    #: recipient -> (code or None for connection/TLS errors, message)
    temporary: dict[str, tuple[int | None, str]] = field(default_factory=dict)
    permanent: dict[str, tuple[int, str]] = field(default_factory=dict)

    @classmethod
    def everyone(cls, recipients: Sequence[str], code: int | None, error: str) -> Attempt:
        """The same answer for every recipient (the transaction failed as a whole)."""
        result = cls()
        for rcpt in recipients:
            if code is not None and 500 <= code < 600:
                result.permanent[rcpt] = (code, error)
            else:
                result.temporary[rcpt] = (code, error)
        return result


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


class RelayClient:
    def __init__(self, config: RelayConfig) -> None:
        self.config = config
        self._pool = ThreadPoolExecutor(config.concurrency, thread_name_prefix="email-relay")
        self._tls = self._context() if config.tls != "none" else None

    def _context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=self.config.ca_file)
        if not self.config.tls_verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    async def deliver(self, mail: OutboundMail) -> Attempt:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._deliver_sync, mail)

    def close(self) -> None:
        # Attempts in flight finish on their own (each is bounded by timeouts).
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        if cfg.tls == "implicit":
            return smtplib.SMTP_SSL(
                cfg.host, cfg.port, local_hostname=cfg.helo_name, timeout=cfg.timeout,
                context=self._tls,
            )  # fmt: skip
        client = smtplib.SMTP(cfg.host, cfg.port, local_hostname=cfg.helo_name, timeout=cfg.timeout)
        if cfg.tls == "starttls":
            client.ehlo()
            # starttls() raises SMTPNotSupportedError when the relay does not offer it:
            # we never fall back to clear text once TLS is configured.
            client.starttls(context=self._tls)
            client.ehlo()
        return client

    def _deliver_sync(self, mail: OutboundMail) -> Attempt:
        cfg = self.config
        recipients = list(mail.recipients)
        options = ["SMTPUTF8"] if mail.smtputf8 else []
        try:
            client = self._connect()
        except smtplib.SMTPResponseException as exc:
            return Attempt.everyone(recipients, exc.smtp_code, _text(exc.smtp_error))
        except (OSError, smtplib.SMTPException) as exc:
            return Attempt.everyone(recipients, None, f"{type(exc).__name__}: {exc}")
        try:
            if cfg.username and cfg.password is not None:
                client.login(cfg.username, cfg.password.get_secret_value())
            refused = client.sendmail(mail.sender, recipients, mail.data, mail_options=options)
        except smtplib.SMTPRecipientsRefused as exc:
            refused = exc.recipients  # every recipient refused: classify each below
        except smtplib.SMTPResponseException as exc:  # MAIL, DATA, AUTH refused
            return Attempt.everyone(recipients, exc.smtp_code, _text(exc.smtp_error))
        except (OSError, smtplib.SMTPException) as exc:
            return Attempt.everyone(recipients, None, f"{type(exc).__name__}: {exc}")
        finally:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()
        result = Attempt()
        for rcpt in recipients:
            if rcpt not in refused:
                result.delivered.append(rcpt)
                continue
            code, reply = refused[rcpt]
            if 500 <= code < 600:
                result.permanent[rcpt] = (code, _text(reply))
            else:
                result.temporary[rcpt] = (code, _text(reply))
        return result

"""``Outbox``: delivery workers over the ``RetryQueue``, with backoff and failure reports.

Theory of operation
-------------------
``concurrency`` worker tasks take mails from the queue and hand them to the relay.
Per recipient: accepted ones are done; 4xx and connection errors are retried after an
exponential backoff (``backoff_base * 2**(attempt-1)``, capped at ``backoff_max``,
with jitter so a relay coming back is not hit by every mail at once) until
``max_attempts``; 5xx are permanent. A permanent failure, or retries running out, is
*reported*: a log line, a counter, and an ``email.send.failed`` event on
``failure_channel`` when one is configured. Nothing is dropped silently.

At stop, new work is refused and the queue gets ``drain_timeout`` seconds to empty;
what is left is logged (with ids and recipients) and counted as ``send_abandoned``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
from collections.abc import Awaitable, Callable

from .compose import OutboundMail
from .config import RelayConfig
from .queue import RetryQueue
from .relay import Attempt, RelayClient
from .spec import EmailSendFailed

__all__ = ["Outbox"]

log = logging.getLogger("telephonist.interfaces.email.outbox")

Deliver = Callable[[OutboundMail], Awaitable[Attempt]]
Report = Callable[[EmailSendFailed], Awaitable[None]]
Count = Callable[[str, int], None]


class Outbox:
    def __init__(
        self,
        config: RelayConfig,
        *,
        count: Count,
        report: Report,
        deliver: Deliver | None = None,
    ) -> None:
        self.config = config
        self.queue: RetryQueue[OutboundMail] = RetryQueue(config.queue_size)
        self._relay = RelayClient(config) if deliver is None else None
        self._deliver = deliver or self._relay.deliver  # type: ignore[union-attr]
        self._count = count
        self._report = report
        self._workers: list[asyncio.Task[None]] = []
        self._sending: list[OutboundMail] = []  # taken by a worker, outcome not known yet

    # -- producers ---------------------------------------------------------------------

    def submit_nowait(self, mail: OutboundMail) -> bool:
        """Queue a mail if there is room (replies); ``False`` (and counted) when full."""
        if self.queue.put_nowait(mail):
            self._count("send_queued", 1)
            return True
        self._count("send_queue_full", 1)
        return False

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        for i in range(self.config.concurrency):
            task = asyncio.get_running_loop().create_task(self._work(), name=f"email-outbox-{i}")
            self._workers.append(task)

    async def stop(self, drain_timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.queue.wait_empty(), drain_timeout)
        # Attempts still in flight are cancelled here; their relay thread may or may not
        # finish the transaction, so they are reported with the queued ones.
        in_flight = list(self._sending)
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers.clear()
        left = in_flight + self.queue.drain_items()
        if left:
            self._count("send_abandoned", len(left))
            for mail in left:
                log.error(
                    "email: not (known to be) sent before shutdown: id=%s to=%s",
                    mail.id, list(mail.recipients),
                )  # fmt: skip
        if self._relay is not None:
            self._relay.close()

    def status(self) -> dict[str, int]:
        return {
            "queued": len(self.queue),
            "ready": self.queue.ready,
            "retrying": self.queue.delayed,
            "sending": len(self._sending),
        }

    # -- delivery ----------------------------------------------------------------------

    def backoff(self, attempt: int) -> float:
        delay = min(self.config.backoff_max, self.config.backoff_base * 2.0 ** (attempt - 1))
        jitter: float = random.uniform(0.5, 1.0)  # spread retries: not security-relevant
        return delay * jitter

    async def _work(self) -> None:
        while True:
            mail = await self.queue.get()
            self._sending.append(mail)
            try:
                await self._attempt(mail)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug here must not kill the worker and stall the queue
                log.exception("email: delivery of %s crashed; reporting it as failed", mail.id)
                await self._fail(mail, list(mail.recipients), None, "internal error", False)
                self.queue.done()
            finally:
                self._sending.remove(mail)

    async def _attempt(self, mail: OutboundMail) -> None:
        attempts = mail.attempts + 1
        result = await self._deliver(mail)
        if result.delivered:
            self._count("sent", len(result.delivered))
            log.info("email: sent id=%s to=%s", mail.id, result.delivered)
        for code, error, rcpts in _grouped(result.permanent):
            await self._fail(mail, rcpts, code, error, True)
        if result.temporary and attempts < self.config.max_attempts:
            retry = dataclasses.replace(mail, recipients=tuple(result.temporary), attempts=attempts)
            delay = self.backoff(attempts)
            self._count("send_retries", 1)
            code, error = next(iter(result.temporary.values()))
            log.warning(
                "email: %s for %s (attempt %d), retrying in %.1fs: %s",
                code or "connection error", list(result.temporary), attempts, delay, error,
            )  # fmt: skip
            self.queue.retry_later(retry, delay)
            return  # the slot stays taken by the retry
        for code, error, rcpts in _grouped(result.temporary):
            await self._fail(mail, rcpts, code, error, False)
        self.queue.done()

    async def _fail(
        self,
        mail: OutboundMail,
        recipients: list[str],
        code: int | None,
        error: str,
        permanent: bool,
    ) -> None:
        self._count("send_failed", len(recipients))
        log.error(
            "email: delivery failed (%s) id=%s to=%s after %d attempt(s): %s %s",
            "permanent" if permanent else "retries exhausted",
            mail.id, recipients, mail.attempts + 1, code or "", error,
        )  # fmt: skip
        await self._report(
            {
                "type": "email.send.failed",
                "id": mail.id,
                "recipients": recipients,
                "code": code,
                "error": error,
                "attempts": mail.attempts + 1,
                "permanent": permanent,
            }
        )


def _grouped(
    by_rcpt: dict[str, tuple[int, str]] | dict[str, tuple[int | None, str]],
) -> list[tuple[int | None, str, list[str]]]:
    """One report per distinct (code, error), listing its recipients."""
    groups: dict[tuple[int | None, str], list[str]] = {}
    for rcpt, answer in by_rcpt.items():
        groups.setdefault(answer, []).append(rcpt)
    return [(code, error, rcpts) for (code, error), rcpts in groups.items()]

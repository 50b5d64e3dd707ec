"""``EmailInterface``: SMTP in (aiosmtpd) and out (a relay), on the host's loop.

Wiring: the SMTP listeners feed ``InboundHandler``, which sends ``email.receive``
events through the host and opens one reply channel per message (``ReplyRegistry``).
Replies and ``email.send`` messages become ``OutboundMail`` in the ``Outbox``.

``email.send`` is an ordinary (not process-specific) channel, and the interface
contract only gives interfaces *reply* channels. Until the host offers first-class
subscriptions, the interface receives on it itself with ``host.layer.receive`` in one
supervised task (errors are logged and retried with a capped backoff). It reserves a
queue slot *before* each receive, so it only takes from the layer what the outbox can
hold; the rest waits on the layer, whose capacity pushes back on senders.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, ClassVar

from ...core.exceptions import ChannelFull, MessageTooLarge
from ..base import Interface, InterfaceConfig, InterfaceHost
from .compose import compose_send
from .config import EmailConfig
from .inbound import InboundHandler
from .outbox import Outbox
from .quota import ReplyQuota
from .replies import ReplyRegistry
from .server import SessionTracker, make_server_tls, start_listener
from .spec import RECEIVE, EmailSendFailed

__all__ = ["EmailInterface"]

_RECEIVE_BACKOFF_MAX = 30.0


class EmailInterface(Interface):
    name = "email"
    config_model = EmailConfig
    event_channels: ClassVar[tuple[str, ...]] = (RECEIVE,)

    def __init__(self, config: InterfaceConfig, host: InterfaceHost) -> None:
        super().__init__(config, host)
        assert isinstance(config, EmailConfig)
        self.cfg = config
        self.outbox: Outbox | None = None
        if config.relay is not None:
            self.outbox = Outbox(
                config.relay, count=lambda name, n: host.count(name, n), report=self._report
            )
        submit = self.outbox.submit_nowait if self.outbox else None
        quota = ReplyQuota(config.reply_rate, config.reply_rate_window)
        self.replies = ReplyRegistry(
            host, submit, config.reply_window, config.max_reply_channels, config.max_replies,
            quota,
        )  # fmt: skip
        self.replies.keep = config.keep_reply_channels
        self.replies.report_outcomes = config.acknowledge == "queued"
        self.handler = InboundHandler(config, host, self.replies)
        self.tracker = SessionTracker(config.max_connections)
        self._servers: list[tuple[str, asyncio.Server]] = []  # (scheme, server)
        self._receiver: asyncio.Task[None] | None = None

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        cfg = self.cfg
        aiosmtpd_log = logging.getLogger("mail.log")
        if aiosmtpd_log.level == logging.NOTSET:
            # aiosmtpd logs every command, addresses included, at INFO: thousands of
            # lines a minute under load. Its warnings stay; set its level to see more.
            aiosmtpd_log.setLevel(logging.WARNING)
        if not cfg.domains and not cfg.addresses:
            self.log.warning("email: no domains or addresses configured: all mail gets 550")
        tls = make_server_tls(cfg)
        for port, implicit in ((cfg.port, False), (cfg.tls_port, True)):
            if port is not None:
                server = await start_listener(self.handler, cfg, self.tracker, port, tls, implicit)
                self._servers.append(("smtps" if implicit else "smtp", server))
        if self.outbox is not None:
            self.outbox.start()
            self._receiver = asyncio.get_running_loop().create_task(
                self._receive_sends(), name="email-send-receiver"
            )
        for endpoint in self.endpoints():
            self.log.debug("email: listening on %s", endpoint)

    async def stop(self, drain_timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + drain_timeout
        for _, server in self._servers:
            server.close()  # no new connections
        self.handler.draining = True
        for session in list(self.tracker.sessions):
            if not session.in_transaction:
                session.goodbye()
        # Let open transactions finish (each answers, then says goodbye) until the deadline.
        while self.tracker.sessions and loop.time() < deadline:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.tracker.wait_change(), deadline - loop.time())
        # Transactions still waiting for their consumers answer 451 now (the sender
        # retries), not after ack_timeout.
        self.replies.close_all()
        for session in list(self.tracker.sessions):
            session.goodbye()
        for _, server in self._servers:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 1.0)
        self._servers.clear()
        if self._receiver is not None:
            self._receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._receiver
        if self.outbox is not None:
            await self.outbox.stop(max(0.0, deadline - loop.time()))
        self.replies.close_all()

    def endpoints(self) -> list[str]:
        out = []
        for scheme, server in self._servers:
            for sock in server.sockets:
                host, port = sock.getsockname()[:2]
                out.append(f"{scheme}://{host}:{port}")
        return out

    def status(self) -> dict[str, Any]:
        return {
            "sessions": len(self.tracker.sessions),
            "reply_channels": len(self.replies),
            "outbox": self.outbox.status() if self.outbox else None,
        }

    # -- outbound ----------------------------------------------------------------------

    async def _receive_sends(self) -> None:
        """Supervised receive loop on ``email.send`` (see the module docstring)."""
        assert self.outbox is not None
        queue = self.outbox.queue
        failures = 0
        while True:
            await queue.reserve()
            try:
                message = await self.host.layer.receive(self.cfg.send_channel)
            except asyncio.CancelledError:
                queue.release()
                raise
            except Exception:
                queue.release()
                failures += 1
                delay = min(_RECEIVE_BACKOFF_MAX, 0.1 * 2**failures)
                self.log.exception("email: receive on %s failed; retrying in %.1fs",
                                   self.cfg.send_channel, delay)  # fmt: skip
                await asyncio.sleep(delay)  # backoff before reconnecting, not a sync wait
                continue
            failures = 0
            try:
                mail = compose_send(message, self.cfg.default_from)
            except ValueError as exc:
                queue.release()
                self.host.count("send_invalid")
                self.log.error("email: %s message refused: %s", self.cfg.send_channel, exc)
                await self._report(
                    {"type": "email.send.failed", "id": _id(message), "recipients": [],
                     "code": None, "error": f"invalid message: {exc}", "attempts": 0,
                     "permanent": True}
                )  # fmt: skip
                continue
            queue.put_reserved(mail)
            self.host.count("send_queued")

    async def _report(self, report: EmailSendFailed) -> None:
        """Send a failure report to ``failure_channel``, if configured; never raises."""
        if self.cfg.failure_channel is None:
            return
        try:
            await self.host.send_event(self.cfg.failure_channel, dict(report))
        except (ChannelFull, MessageTooLarge, OSError, TimeoutError) as exc:
            self.log.error("email: could not report a failed delivery: %r", exc)


def _id(message: dict[str, Any]) -> str | None:
    value = message.get("id")
    return None if value is None else str(value)

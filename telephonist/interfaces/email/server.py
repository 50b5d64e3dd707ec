"""The SMTP listeners: aiosmtpd's protocol on the shared loop, with our limits.

aiosmtpd implements the protocol (and, since 1.4.5, the CRLF-only end-of-data rule
that defeats SMTP smuggling: a bare ``\\n.\\n`` never ends DATA). What it leaves to
the embedder is done here:

* *connection limit*: the protocol factory answers ``421`` and closes when
  ``max_connections`` sessions are open, before any SMTP state exists;
* *per-instance limits*: aiosmtpd keeps ``command_size_limits`` on the class and grows
  it on every EHLO, shared by all sessions; each session gets its own dict here;
* *TLS facts*: on an implicit-TLS listener aiosmtpd sees no STARTTLS, so it would
  refuse AUTH as "not encrypted" and ``session.ssl`` stays None. That listener's
  sessions drop aiosmtpd's TLS requirement for AUTH (the whole connection is TLS) and
  TLS state is always read from the transport;
* *draining*: ``SessionTracker`` knows every live session, so ``stop`` can close idle
  ones at once and give open transactions a bounded time to finish;
* *source routes*: aiosmtpd's address parser drops them silently, so ``MAIL`` and
  ``RCPT`` look at the raw argument first and refuse one (``envelope.py``);
* *introspection*: aiosmtpd looks up a session's verbs and its handler's hooks with
  ``dir()`` on every connection; ``dir()`` of a session (and of the handler) answers
  with just those names, found once per class;
* *address parsing*: the common ``<local@domain>`` is read by a regex before aiosmtpd's
  RFC 5322 token parser, more than half of what a bare aiosmtpd server executes per mail
  (``envelope.plain_address``, checked against it by a property test).
"""

from __future__ import annotations

import asyncio
import collections
import hmac
import logging
import ssl
from collections.abc import Callable
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword, syntax

from .config import EmailConfig
from .envelope import has_source_route, plain_address, route_refusal

__all__ = ["SMTPSession", "SessionTracker", "hook_names", "make_server_tls", "start_listener"]

log = logging.getLogger("telephonist.interfaces.email.server")

# Per-session command budgets: generous for the commands a busy MTA repeats (MAIL,
# RCPT, DATA, RSET over a reused connection), tight for the ones an attacker loops on.
_CALL_LIMITS = {"AUTH": 5, "EHLO": 10, "HELO": 10, "STARTTLS": 2, "VRFY": 10, "HELP": 10,
                "NOOP": 100, "*": 10_000}  # fmt: skip
_BUSY = b"421 4.3.2 Too many connections, try again later\r\n"
_SHUTDOWN = b"421 4.3.2 Service shutting down, try again later\r\n"


class SessionTracker:
    """Live sessions of all listeners, for the connection limit and the drain."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.sessions: set[SMTPSession] = set()
        self._changed = asyncio.Event()

    def full(self) -> bool:
        return len(self.sessions) >= self.limit

    def add(self, session: SMTPSession) -> None:
        self.sessions.add(session)

    def discard(self, session: SMTPSession) -> None:
        self.sessions.discard(session)
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_change(self) -> None:
        await self._changed.wait()


def make_server_tls(config: EmailConfig) -> ssl.SSLContext | None:
    if config.tls_cert is None:
        return None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(config.tls_cert, config.tls_key)
    return ctx


def _authenticator(config: EmailConfig) -> Callable[..., AuthResult]:
    users = {
        name.encode(): secret.get_secret_value().encode()
        for name, secret in config.auth_users.items()
    }

    def authenticate(
        server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        expected = users.get(data.login)
        # compare_digest on a dummy too, so timing does not reveal which logins exist
        ok = hmac.compare_digest(expected or b"\0", data.password) and expected is not None
        if not ok:
            log.warning("email: AUTH %s failed for %r", mechanism, data.login[:64])
        # The login only: aiosmtpd logs the AuthResult's repr at DEBUG, and the
        # LoginPassword's would show the password.
        return AuthResult(success=ok, handled=False, auth_data=bytes(data.login))

    return authenticate


_HOOK_NAMES: dict[tuple[type, tuple[str, ...]], list[str]] = {}


def hook_names(cls: type, prefixes: tuple[str, ...]) -> list[str]:
    """The attributes of ``cls`` named with one of ``prefixes``, found once per class."""
    names = _HOOK_NAMES.get((cls, prefixes))
    if names is None:
        names = sorted(name for name in dir(cls) if name.startswith(prefixes))
        _HOOK_NAMES[cls, prefixes] = names
    return names


class SMTPSession(SMTP):  # type: ignore[misc,unused-ignore]  # aiosmtpd is untyped
    """One SMTP connection (aiosmtpd ``SMTP`` with per-session limits and tracking)."""

    def __dir__(self) -> list[str]:
        # aiosmtpd's __init__ finds a session's verbs (smtp_*) and AUTH mechanisms
        # (auth_*) with dir() and inspect.getmembers(), on every connection: measured,
        # that introspection was most of what a new connection cost the bare aiosmtpd
        # sink. Those names are all it looks for and they are the class's, so a
        # session's dir() lists just them, found once per class.
        return hook_names(type(self), ("smtp_", "auth_"))

    def __init__(
        self,
        handler: Any,
        config: EmailConfig,
        tracker: SessionTracker,
        tls_context: ssl.SSLContext | None,
        implicit_tls: bool,
        authenticator: Callable[..., AuthResult] | None = None,
    ) -> None:
        # Read by SMTP.__init__ to size its StreamReader: the longest line we buffer.
        self.line_length_limit = config.max_line_length
        self.command_size_limit = config.max_command_size
        super().__init__(
            handler,
            data_size_limit=config.max_message_size,
            enable_SMTPUTF8=config.smtputf8,
            hostname=config.hostname,
            ident="Telephonist ESMTP",
            tls_context=None if implicit_tls else tls_context,
            require_starttls=config.require_starttls and not implicit_tls,
            timeout=config.timeout,
            auth_required=config.auth_required,
            auth_require_tls=True,
            authenticator=authenticator or _authenticator(config),
            auth_exclude_mechanism=[] if config.auth_users else ["LOGIN", "PLAIN"],
            command_call_limit=dict(_CALL_LIMITS),
            loop=asyncio.get_running_loop(),
        )
        if implicit_tls:
            # The whole connection is TLS, but aiosmtpd only knows STARTTLS: without this
            # it refuses AUTH as "not encrypted". Set after __init__, which would
            # otherwise warn (on every connection) about AUTH without TLS.
            self._auth_require_tls = False
        limit = config.max_command_size
        self.command_size_limits = collections.defaultdict(lambda: limit)
        self.tracker = tracker
        self.implicit_tls = implicit_tls
        self.auth_offered = bool(config.auth_users)

    def _routed(self, keyword: str, arg: str | None) -> bool:
        rest = self._strip_command_keyword(keyword, arg) if arg else None
        if rest is None or not has_source_route(rest):
            return False
        count = getattr(self.event_handler, "count_refused_address", None)
        if callable(count):
            count()
        return True

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        # aiosmtpd's address parsing (private, called by its MAIL, RCPT and VRFY), with
        # the common form read in one regex first (envelope.plain_address).
        plain = plain_address(arg)
        if plain is None:
            return super()._getaddr(arg)
        address, rest = plain
        if self.local_part_limit and len(address.rpartition("@")[0]) > self.local_part_limit:
            return None, None
        return address, rest

    @syntax("MAIL FROM: <address>", extended=" [SP <mail-parameters>]")
    async def smtp_MAIL(self, arg: str | None) -> None:
        if self._routed("FROM:", arg):
            await self.push(route_refusal(sender=True))
            return
        await super().smtp_MAIL(arg)

    @syntax("RCPT TO: <address>", extended=" [SP <mail-parameters>]")
    async def smtp_RCPT(self, arg: str | None) -> None:
        if self._routed("TO:", arg):
            await self.push(route_refusal(sender=False))
            return
        await super().smtp_RCPT(arg)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        first = self.transport is None
        super().connection_made(transport)
        if first:
            self.tracker.add(self)

    def connection_lost(self, error: Exception | None) -> None:
        self.tracker.discard(self)
        super().connection_lost(error)

    @property
    def tls_active(self) -> bool:
        transport = self.transport
        return transport is not None and transport.get_extra_info("ssl_object") is not None

    @property
    def in_transaction(self) -> bool:
        return bool(self.envelope is not None and self.envelope.mail_from)

    def goodbye(self) -> None:
        """Say 421 and close (shutdown): the client keeps its mail and retries later."""
        transport: Any = self.transport  # the TLS app transport after STARTTLS
        if transport is not None and not transport.is_closing():
            transport.write(_SHUTDOWN)
            transport.close()


class _Busy(asyncio.Protocol):
    """Stands in for a session when the connection limit is reached."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if isinstance(transport, asyncio.WriteTransport):
            transport.write(_BUSY)
        transport.close()


async def start_listener(
    handler: Any,
    config: EmailConfig,
    tracker: SessionTracker,
    port: int,
    tls_context: ssl.SSLContext | None,
    implicit_tls: bool,
) -> asyncio.Server:
    authenticator = _authenticator(config)  # once per listener, not per connection

    def factory() -> asyncio.BaseProtocol:
        if tracker.full():
            log.warning("email: connection limit (%d) reached, answering 421", tracker.limit)
            return _Busy()
        return SMTPSession(handler, config, tracker, tls_context, implicit_tls, authenticator)

    loop = asyncio.get_running_loop()
    return await loop.create_server(
        factory,
        config.host,
        port,
        ssl=tls_context if implicit_tls else None,
        ssl_handshake_timeout=config.tls_handshake_timeout if implicit_tls else None,
    )

"""Settings of the email interface (``[interfaces.email]`` in ``telephonist.toml``).

Every limit has a safe default; ``docs/email.md`` lists them all. The inbound server
never relays: it accepts mail only for ``domains`` and ``addresses``, and with neither
configured it accepts nothing (and says so at start-up).
"""

from __future__ import annotations

import functools
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from ..base import InterfaceConfig
from .headers import normalize_address
from .message import ParseLimits

__all__ = ["EmailConfig", "RelayConfig"]

KIB = 1024
MIB = 1024 * KIB


class RelayConfig(BaseModel):
    """The SMTP server outbound mail is handed to (a smarthost)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Host of the relay (smarthost).
    host: str = "127.0.0.1"
    #: Port of the relay: 25, 587 for submission, 465 with ``tls = "implicit"``.
    port: int = Field(25, ge=1, le=65535)
    #: "starttls" (refuse to send in clear if the relay does not offer it), "implicit"
    #: (TLS from the first byte, port 465), or "none" (loopback relays only).
    tls: Literal["starttls", "implicit", "none"] = "starttls"
    #: Verify the relay's certificate; ``ca_file`` adds a private CA.
    tls_verify: bool = True
    #: PEM file of an extra CA to trust for the relay.
    ca_file: str | None = None
    #: AUTH login at the relay; refused with ``tls = "none"``.
    username: str | None = None
    #: AUTH password at the relay (a secret).
    password: SecretStr | None = None
    #: Our EHLO name.
    helo_name: str = "localhost"
    #: Seconds per connect and per command.
    timeout: float = Field(30.0, gt=0)  # per SMTP command and for connecting
    #: Mails held (waiting, sending, retrying).
    queue_size: int = Field(1000, ge=1)  # mails waiting or retrying, all together
    #: Parallel relay connections (a dedicated thread pool running ``smtplib``).
    concurrency: int = Field(2, ge=1, le=64)  # parallel relay connections
    #: Attempts before a 4xx failure is reported.
    max_attempts: int = Field(8, ge=1)  # then a 4xx failure is reported
    #: Seconds before the first retry of a 4xx failure (then doubling).
    backoff_base: float = Field(2.0, gt=0)  # seconds before the first retry
    #: Seconds: the longest wait between two retries.
    backoff_max: float = Field(600.0, gt=0)  # cap of the exponential backoff

    @model_validator(mode="after")
    def _auth_needs_tls(self) -> RelayConfig:
        if self.username and self.tls == "none":
            raise ValueError("relay AUTH without TLS would send the password in clear")
        if bool(self.username) != bool(self.password):
            raise ValueError("relay username and password go together")
        return self


class EmailConfig(InterfaceConfig):
    # -- inbound SMTP ------------------------------------------------------------------
    #: Listen address.
    host: str = "127.0.0.1"
    #: Plain SMTP (with STARTTLS when a certificate is configured); None: no listener.
    port: int | None = Field(2525, ge=0, le=65535)
    #: Implicit-TLS SMTP ("SMTPS", RFC 8314); needs ``tls_cert``. None: no listener.
    tls_port: int | None = Field(None, ge=0, le=65535)
    #: Our name in the greeting and EHLO.
    hostname: str = "localhost"  # our name in the greeting and EHLO reply
    #: Domains we accept mail for (case-insensitive).
    domains: tuple[str, ...] = ("localhost",)
    #: Single addresses on other domains.
    addresses: tuple[str, ...] = ()
    #: Regular expressions (``re.search``, lower-case address) of the local addresses
    #: served; any other address of our domains gets ``550 5.1.1`` at RCPT. Empty: every
    #: address of ``domains``/``addresses`` is served.
    recipients: tuple[str, ...] = ()
    #: PEM certificate chain for STARTTLS and ``tls_port`` (TLS 1.2 minimum).
    tls_cert: str | None = None  # PEM certificate chain
    #: PEM private key of ``tls_cert``.
    tls_key: str | None = None  # PEM private key
    #: ``530`` to MAIL before STARTTLS on the plain port.
    require_starttls: bool = False  # refuse MAIL before STARTTLS on the plain port
    #: SMTP AUTH logins (PLAIN, LOGIN), offered only over TLS. Empty: no AUTH.
    auth_users: dict[str, SecretStr] = Field(default_factory=dict)
    #: ``530`` to MAIL without AUTH (a submission service).
    auth_required: bool = False  # refuse MAIL without AUTH (a submission service)
    #: Offer SMTPUTF8 (RFC 6531).
    smtputf8: bool = True

    #: Advertised in ``SIZE``; ``552`` above (at MAIL with ``SIZE=``, else after DATA).
    max_message_size: int = Field(10 * MIB, ge=1 * KIB)  # advertised in SIZE; 552 above
    #: Per transaction; ``452 4.5.3`` above.
    max_recipients: int = Field(100, ge=1)  # RFC 5321 4.5.3.1.8: at least 100; 452 above
    #: Bytes per command line; ``500`` above.
    max_command_size: int = Field(512, ge=512)  # RFC 5321 minimum; 500 above
    #: Bytes per DATA line (RFC: 1000); ``500`` above.
    max_line_length: int = Field(4096, ge=1001)  # DATA lines; 500 above (RFC: 1000)
    #: Concurrent sessions; ``421 4.3.2`` at connect above.
    max_connections: int = Field(100, ge=1)  # then 421 at connect
    #: Idle seconds between commands (also bounds a DATA transfer), then disconnect.
    timeout: float = Field(300.0, gt=0)  # idle seconds between commands (RFC 5321: 5 min)
    #: Seconds an implicit-TLS handshake may take.
    tls_handshake_timeout: float = Field(30.0, gt=0)

    # -- mapping to messages -----------------------------------------------------------
    #: Where inbound messages go.
    channel: str = "email.receive"
    #: Characters kept of each body.
    body_limit: int = Field(256 * KIB, ge=1)  # characters of the plain and html bodies
    #: Bytes of one attachment's ``content``.
    attachment_content_limit: int = Field(256 * KIB, ge=0)
    #: Bytes of all attachment contents of a message.
    attachments_total_limit: int = Field(512 * KIB, ge=0)
    #: MIME leaves examined (the rest: ``TooManyParts`` defect).
    max_parts: int = Field(100, ge=1)
    #: Seconds one layer send may take before ``451``.
    send_timeout: float = Field(30.0, gt=0)  # one layer send; then 451
    #: When ``250`` is answered: "consumed" once a worker's consumer took the message
    #: and returned without error (at-least-once: a mail whose 250 was lost in transit
    #: is sent again), "queued" once it is on the channel layer (then only as safe as
    #: the layer: Redis needs ``appendfsync always`` to keep it through a crash).
    acknowledge: Literal["consumed", "queued"] = "consumed"
    #: With "consumed": seconds to wait for the consumer, all recipients together;
    #: then 451 (well inside the sender's own DATA timeout, RFC 5321: 10 min).
    ack_timeout: float = Field(30.0, gt=0, le=300)
    #: Keep a mail's reply channel open for ``reply_window`` after its consumer
    #: returned (for consumers that answer later, or put it in a room's group with
    #: ``room_protocols``). Default: it closes when the consumer returns, so a mail
    #: holds no state once consumed (it still closes after ``reply_window`` if no
    #: completion comes).
    keep_reply_channels: bool = False
    #: How long a partially delivered transaction remembers which recipients already
    #: went out, so the sender's retry after our 451 does not duplicate them.
    dedup_window: float = Field(3600.0, gt=0)
    #: Partly delivered transactions remembered at most (see ``dedup_window``).
    dedup_entries: int = Field(10_000, ge=1)
    #: How long a message's reply channel accepts ``{"text": ...}``; after it, send
    #: a reply through ``email.send``.
    reply_window: float = Field(3600.0, gt=0)
    #: Open reply channels; the oldest closes first.
    max_reply_channels: int = Field(10_000, ge=1)
    #: Reply mails one inbound message may cause (a room's chatter reaches the reply
    #: channel through its group): the channel closes after that many.
    max_replies: int = Field(10, ge=1)
    #: Who gets reply mails. A reply goes to the envelope sender (MAIL FROM), never to a
    #: Reply-To or From header, and only when the session authenticated (AUTH) or the
    #: sender is listed here: an address (``ann@example.com``) or a domain
    #: (``@example.com``). Empty: mail without AUTH gets no reply (``reply_suppressed``),
    #: so a forged sender cannot turn the service into a mail cannon.
    reply_senders: tuple[str, ...] = ()
    #: Replies one address may get: ``reply_rate`` at once, refilled at ``reply_rate``
    #: per ``reply_rate_window`` seconds; beyond that they are dropped
    #: (``reply_rate_limited``).
    reply_rate: int = Field(10, ge=1)
    #: Seconds over which ``reply_rate`` replies per address refill.
    reply_rate_window: float = Field(3600.0, gt=0)

    # -- outbound -----------------------------------------------------------------------
    #: Outbound relay, below; ``null``: no mail is sent.
    relay: RelayConfig | None = None  # None: no outbound mail (replies are counted)
    #: Channel the interface consumes outbound mail from.
    send_channel: str = "email.send"
    #: From of ``email.send`` messages without ``from_address``.
    default_from: str | None = None  # From of email.send messages that have none
    #: Where ``email.send.failed`` reports go.
    failure_channel: str | None = None  # where email.send.failed reports go

    @model_validator(mode="after")
    def _check(self) -> EmailConfig:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together")
        if self.tls_port is not None and self.tls_cert is None:
            raise ValueError("tls_port needs tls_cert and tls_key")
        if self.require_starttls and self.tls_cert is None:
            raise ValueError("require_starttls needs tls_cert and tls_key")
        if self.auth_users and self.tls_cert is None:
            raise ValueError("auth_users needs TLS (tls_cert and tls_key): AUTH is TLS-only")
        if self.auth_required and not self.auth_users:
            raise ValueError("auth_required needs auth_users")
        if self.acknowledge == "consumed" and self.reply_window < self.ack_timeout:
            # The completion comes back on the mail's reply channel: a window shorter
            # than the wait would close it first and answer 451 for a mail its
            # consumer was still handling (the wait would end at reply_window).
            raise ValueError(
                f"reply_window ({self.reply_window:g}) must be at least ack_timeout "
                f'({self.ack_timeout:g}) with acknowledge = "consumed": the consumer\'s '
                "completion comes back on the mail's reply channel"
            )
        for pattern in self.recipients:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"recipients: {pattern!r} is not a regex: {exc}") from None
        return self

    def serves(self, address: str) -> bool:
        """Is ``address`` (one of ``accepts``) a mailbox we serve (``recipients``)?"""
        patterns = _compiled(self.recipients)
        if not patterns:
            return True
        address = normalize_address(address)
        return any(p.search(address) for p in patterns)

    def accepts(self, address: str) -> bool:
        """Is ``address`` one of ours? Anything else gets 550: we never relay."""
        address = normalize_address(address)
        domain = address.rpartition("@")[2]
        if not domain or "@" not in address:
            return False
        return domain in {d.lower() for d in self.domains} or address in {
            normalize_address(a) for a in self.addresses
        }

    def may_reply_to(self, sender: str) -> bool:
        """Whether mail from ``sender`` without AUTH may get replies (``reply_senders``)."""
        address = normalize_address(sender)
        domain = "@" + address.rpartition("@")[2]
        allowed = {normalize_address(a) if not a.startswith("@") else a.lower()
                   for a in self.reply_senders}  # fmt: skip
        return "@" in address and (address in allowed or domain in allowed)

    def parse_limits(self) -> ParseLimits:
        return ParseLimits(
            body_limit=self.body_limit,
            attachment_content_limit=self.attachment_content_limit,
            attachments_total_limit=self.attachments_total_limit,
            max_parts=self.max_parts,
        )


@functools.lru_cache(maxsize=64)
def _compiled(patterns: tuple[str, ...]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)

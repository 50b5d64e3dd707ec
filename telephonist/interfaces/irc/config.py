"""Settings of the IRC interface: one ``IrcConfig`` with a list of networks.

Every setting has a safe default; ``docs/irc.md`` lists them all. A network is reached by
configuration alone, for example in ``telephonist.toml``::

    [interfaces.irc]
    [[interfaces.irc.networks]]
    name = "libera"
    host = "irc.libera.chat"
    nick = "mybot"
    channels = ["#mychannel", "#private secretkey"]
    sasl_mechanism = "plain"
    sasl_password = "..."
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from ... import __version__
from ..base import InterfaceConfig
from .lines import FORBIDDEN
from .text import valid_word

__all__ = ["DEFAULT_CAPS", "EVENT_KINDS", "ChannelSpec", "IrcConfig", "NetworkConfig"]

#: IRCv3 capabilities requested when the server offers them (``sasl`` is added when SASL
#: is configured). Each one is handled: tags and ``time`` reach consumers, echoes of our
#: own lines are ignored, ``chghost`` keeps our relayed prefix (and so line splitting) exact.
DEFAULT_CAPS = ("server-time", "message-tags", "echo-message", "multi-prefix", "chghost")

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")


class ChannelSpec(BaseModel):
    """A channel to join, with its key (password) if it has one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: The channel, ``#room`` (a string ``"#room"`` or ``"#room key"`` is this table too).
    name: str
    #: The channel key (``+k``). A secret: kept a ``SecretStr`` so no repr, error or
    #: status shows it.
    key: SecretStr | None = None

    @field_validator("name")
    @classmethod
    def _one_word(cls, value: str) -> str:
        if not valid_word(value):
            raise ValueError(f"{value!r} is not a single IRC word")
        return value

    @field_validator("key")
    @classmethod
    def _key_word(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not valid_word(value.get_secret_value()):
            raise ValueError("a channel key must be a single IRC word")  # not echoed
        return value


class NetworkConfig(BaseModel):
    """One IRC network (one server connection)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Label used in messages (`network` key) and logs.")
    #: Server host name or address.
    host: str
    #: Server port: 6697 is IRC over TLS; plain-text servers usually listen on 6667.
    port: int = Field(6697, ge=1, le=65535)
    #: TLS from the first byte.
    tls: bool = True
    #: Verify the server certificate and host name.
    tls_verify: bool = True
    #: PEM file of CAs to trust instead.
    tls_ca_file: str | None = None
    #: Name to verify (and send as SNI).
    tls_server_name: str | None = None
    #: Client certificate (CertFP, SASL EXTERNAL).
    tls_client_cert: str | None = None
    #: Key of ``tls_client_cert`` (PEM).
    tls_client_key: str | None = None
    #: Server password (``PASS``); refused with ``tls = false`` unless ``allow_plaintext_auth``.
    password: SecretStr | None = None
    #: The bot's nick.
    nick: str
    #: Nicks to try when ``nick`` is taken.
    alt_nicks: tuple[str, ...] = ()
    #: The USER name (ident).
    user: str | None = None
    #: The real name (GECOS) others see in WHOIS.
    realname: str = "Telephonist IRC interface"
    #: SASL: ``"none"``, ``"plain"`` (account and password) or ``"external"`` (client certificate).
    sasl_mechanism: Literal["none", "plain", "external"] = "none"
    #: PLAIN account name.
    sasl_username: str | None = None
    #: PLAIN password (required for ``"plain"``).
    sasl_password: SecretStr | None = None
    #: Abandon the attempt when SASL is unavailable or fails.
    sasl_required: bool = True
    #: ``PASS`` and SASL PLAIN send the password as it is; over ``tls = false`` anyone on
    #: the path reads it. Refused unless this says the plaintext server is trusted (a
    #: loopback or private-network server).
    allow_plaintext_auth: bool = False
    #: ``"#room"``, ``"#room key"`` or ``{name, key}``.
    channels: tuple[ChannelSpec, ...] = ()
    #: IRCv3 capabilities to request when offered.
    caps: tuple[str, ...] = DEFAULT_CAPS
    #: ``False`` writes every line at once: for a server that does not limit this bot
    #: (your own, or one where it is exempt). ``flood_burst``/``flood_rate`` then do nothing.
    flood_control: bool = True
    #: Lines sent at once before pacing.
    flood_burst: int = Field(5, ge=1)
    #: Lines per second after the burst.
    flood_rate: float = Field(1.0, gt=0)
    #: Lines waiting to be sent, at most.
    max_queue: int = Field(500, ge=1)
    #: Seconds a TCP + TLS connect may take.
    connect_timeout: float = Field(30.0, gt=0)
    #: Seconds from connect to the welcome (001).
    registration_timeout: float = Field(60.0, gt=0)
    #: Seconds between keepalive PINGs.
    ping_interval: float = Field(60.0, gt=0)
    #: Seconds without a PONG before reconnecting (at least ``ping_interval``).
    ping_timeout: float = Field(120.0, gt=0)
    #: Seconds: first reconnect back-off ceiling (doubling, with jitter).
    reconnect_initial: float = Field(2.0, gt=0)
    #: Seconds: largest reconnect back-off ceiling.
    reconnect_max: float = Field(300.0, gt=0)
    #: Failed attempts in a row before giving up; None: never give up.
    reconnect_attempts: int | None = Field(None, ge=0)
    #: Bytes of one server line (512 + 8191 of IRCv3 tags).
    max_inbound_line: int = Field(8704, ge=512)
    #: An event the layer refuses (``ChannelFull``) is tried again after 1 ms, then
    #: twice as long each time, at most this long apart, until ``full_timeout``.
    full_retry_max: float = Field(0.05, ge=0.001)
    #: Seconds: an event the layer refuses for this long is dropped (``dropped_full``).
    full_timeout: float = Field(10.0, gt=0)
    #: Conversations (reply channels) kept per network.
    max_conversations: int = Field(1000, ge=1)
    #: Rejoin at once when kicked.
    rejoin_on_kick: bool = False
    #: CTCP VERSION answer.
    version_reply: str = f"Telephonist {__version__}"
    #: QUIT text on stop.
    quit_message: str = "Telephonist"

    @field_validator("channels", mode="before")
    @classmethod
    def _channel_strings(cls, value: object) -> object:
        # "#room" and "#room key" are accepted as shorthands for {name, key}.
        if isinstance(value, list | tuple):
            items: list[object] = []
            for item in value:
                if isinstance(item, str):
                    name, _, key = item.strip().partition(" ")
                    items.append({"name": name, "key": key.strip() or None})
                else:
                    items.append(item)
            return items
        return value

    @field_validator("name")
    @classmethod
    def _label(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("network name must be 1-40 of A-Z a-z 0-9 _ . -")
        return value

    @field_validator("nick", "user")
    @classmethod
    def _word(cls, value: str | None) -> str | None:
        if value is not None and not valid_word(value, 64):
            raise ValueError(f"{value!r} is not a valid IRC nick/user")
        return value

    @field_validator("realname", "quit_message", "version_reply")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if FORBIDDEN.intersection(value) or "\x01" in value:
            raise ValueError("must not contain CR, LF, NUL or \\x01")
        return value

    @field_validator("alt_nicks")
    @classmethod
    def _words(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for nick in value:
            if not valid_word(nick, 64):
                raise ValueError(f"{nick!r} is not a valid IRC nick")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> NetworkConfig:
        if self.sasl_mechanism == "plain" and self.sasl_password is None:
            raise ValueError("sasl_mechanism 'plain' needs sasl_password")
        if not self.tls and not self.allow_plaintext_auth:
            if self.password is not None:
                raise ValueError(
                    "password (PASS) over tls = false would send it in clear; use TLS, "
                    "or set allow_plaintext_auth = true for a trusted plaintext server"
                )
            if self.sasl_mechanism == "plain":
                raise ValueError(
                    "SASL PLAIN over tls = false would send the password in clear; use "
                    "TLS, or set allow_plaintext_auth = true for a trusted plaintext server"
                )
        if self.sasl_mechanism == "external" and not self.tls_client_cert:
            raise ValueError("sasl_mechanism 'external' needs tls_client_cert")
        if self.tls_client_key and not self.tls_client_cert:
            raise ValueError("tls_client_key without tls_client_cert")
        if self.ping_timeout < self.ping_interval:
            raise ValueError("ping_timeout must be at least ping_interval")
        if self.reconnect_max < self.reconnect_initial:
            raise ValueError("reconnect_max must be at least reconnect_initial")
        return self

    @property
    def username(self) -> str:
        return self.user or self.nick


#: Every kind of event the interface can publish (``irc-client.<kind>``).
EVENT_KINDS = ("connect", "disconnect", "receive", "join", "part", "kick", "quit", "nick",
               "invite", "topic")  # fmt: skip


class IrcConfig(InterfaceConfig):
    """The ``irc`` interface: a client of each listed network."""

    #: The networks to connect to, one ``[[interfaces.irc.networks]]`` table each.
    networks: tuple[NetworkConfig, ...] = ()
    #: The kinds of event to publish; list only what your routing handles. The first
    #: event of a conversation binds it to the worker that takes it, and one on a
    #: channel no worker routes holds the conversation until the host's bind timeout
    #: aborts it, losing the events queued behind it. Only messages by default, so the
    #: plainest bot (``route("irc-client.receive", ...)``) cannot fall into that.
    events: tuple[str, ...] = ("receive",)

    @field_validator("events")
    @classmethod
    def _kinds(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = set(value) - set(EVENT_KINDS)
        if unknown:
            raise ValueError(f"unknown event kinds {sorted(unknown)}; known: {EVENT_KINDS}")
        return value

    @field_validator("networks")
    @classmethod
    def _unique(cls, value: tuple[NetworkConfig, ...]) -> tuple[NetworkConfig, ...]:
        names = [n.name for n in value]
        if len(names) != len(set(names)):
            raise ValueError("network names must be unique")
        return value

"""Parsing the ``hosts`` setting into host specs, and opening connection pools from them.

``hosts`` takes every form ``channels_redis`` accepts, so a Channels project can switch
its ``CHANNEL_LAYERS`` backend without rewriting its config:

- a URL string: ``redis://[user:pass@]host:port/db``, ``rediss://`` (TLS, ``ssl_*``
  query arguments as redis-py), ``unix:///path/to/socket?db=0``;
- a ``(host, port)`` tuple or list;
- a dict of redis-py connection keyword arguments (``{"host": ..., "port": ...}``), or
  ``{"address": URL, **kwargs}`` as ``channels_redis`` has it;
- a Sentinel spec: ``{"sentinels": [(host, port), ...], "master_name": "mymaster",
  "sentinel_kwargs": {...}, **master_connection_kwargs}``.

A spec is plain data; pools are made from it inside the event loop that uses them
(see ``node.py``), because redis-py connections belong to the loop that opened them.

Credentials are secrets end to end: a URL (which may hold ``user:pass@``) and every
``password`` option are kept as ``pydantic.SecretStr`` (any of them may also be given as
one), unwrapped only when a pool is made, so no repr, error or status output shows them.
``identity``, the name in logs and status, never has them.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr
from redis.asyncio.connection import (
    ConnectionPool,
    SSLConnection,
    UnixDomainSocketConnection,
    parse_url,
)
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool

from ...redaction import redact
from ..exceptions import InvalidChannelLayerError

__all__ = ["DEFAULT_HOSTS", "HostSpec", "parse_hosts"]

DEFAULT_HOSTS: tuple[str, ...] = ("redis://localhost:6379",)

# The layer parses raw replies (bytes) itself, after redis-py's set-up (``wire.py``),
# and speaks RESP2 only: it needs nothing from RESP3, whose extra types its pure-Python
# parser does not read, so a ``protocol`` option is overridden.
_FORCED: Mapping[str, Any] = {"decode_responses": False, "protocol": 2}
_DEFAULTS: Mapping[str, Any] = {"socket_connect_timeout": 5.0}
# A blocking pop on a peer that vanished without a FIN (host crash, dropped NAT entry)
# would wait forever: TCP keepalive finds it in about 45 s, with probes that are not
# Redis commands, so an idle process still sends none. (redis-py >= 8 does this by
# default; 5.x does not.)
_KEEPALIVE: Mapping[str, Any] = {
    "socket_keepalive": True,
    "socket_keepalive_options": {
        getattr(socket, name): value
        for name, value in (("TCP_KEEPIDLE", 30), ("TCP_KEEPINTVL", 5), ("TCP_KEEPCNT", 3))
        if hasattr(socket, name)
    },
}


_SECRET_OPTIONS = ("password", "username")


def _hidden(options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` with credentials wrapped in ``SecretStr``."""
    return {
        k: SecretStr(v) if k in _SECRET_OPTIONS and isinstance(v, str) else v
        for k, v in options.items()
    }


def _revealed(options: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v.get_secret_value() if isinstance(v, SecretStr) else v for k, v in options.items()}


def _plain(value: object) -> object:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


@dataclass(frozen=True)
class HostSpec:
    """One shard's address: a URL, redis-py keyword arguments, or a Sentinel service."""

    url: SecretStr | None = None
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    sentinels: tuple[tuple[str, int], ...] = ()
    master_name: str | None = None
    sentinel_kwargs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def identity(self) -> str:
        """A stable name for consistent hashing: the same host listed in another order
        or another process lands on the same point of the ring."""
        if self.master_name is not None:
            return f"sentinel:{self.master_name}"
        if self.url is not None:
            # Without the query and any user:password: identities appear in logs and
            # in ``telephonist status``.
            url = self.url.get_secret_value()
            scheme, _, rest = url.split("?", 1)[0].partition("://")
            return f"{scheme}://{rest.rpartition('@')[2]}"
        if "path" in self.kwargs:
            return f"unix:{self.kwargs['path']}"
        host = self.kwargs.get("host", "localhost")
        return f"{host}:{self.kwargs.get('port', 6379)}/{self.kwargs.get('db', 0)}"

    @property
    def is_tcp(self) -> bool:
        if self.url is not None:
            return not self.url.get_secret_value().startswith("unix://")
        return "path" not in self.kwargs

    def make_pool(self) -> ConnectionPool:
        """A redis-py pool for this host, used only as a factory of connections."""
        kwargs = _revealed(self.kwargs)
        options = {**_DEFAULTS, **(_KEEPALIVE if self.is_tcp else {}), **kwargs, **_FORCED}
        if self.master_name is not None:
            # Typed from redis-py 8 on, untyped before: the ignore must fit both.
            manager = Sentinel(  # type: ignore[no-untyped-call,unused-ignore]
                list(self.sentinels),
                sentinel_kwargs=_revealed(self.sentinel_kwargs) or None,
            )
            return SentinelConnectionPool(self.master_name, manager, **options)  # type: ignore[no-untyped-call]
        if self.url is not None:
            return ConnectionPool.from_url(self.url.get_secret_value(), **options)
        return ConnectionPool(**options)

    def connection_kwargs(self) -> dict[str, Any]:
        """redis-py keyword arguments of this host, the URL's parsed in (secrets hidden)."""
        kwargs = dict(self.kwargs)
        if self.url is not None:
            kwargs = {**_hidden(parse_url(self.url.get_secret_value())), **kwargs}
        return kwargs

    def with_address(self, host: str, port: int) -> HostSpec:
        """The same connection options aimed at another node (Redis Cluster members)."""
        kwargs = self.connection_kwargs()
        if self.url is not None:
            kwargs.pop("connection_class", None)
            kwargs["ssl"] = self.url.get_secret_value().startswith("rediss://")
        kwargs.update(host=host, port=port)
        return HostSpec(kwargs=_with_ssl_class(kwargs))


def _with_ssl_class(kwargs: dict[str, Any]) -> dict[str, Any]:
    # ConnectionPool(**kwargs) has no "ssl" or unix-socket switch of its own (from_url and
    # redis.Redis(...) pick the class): pick it here, so the dicts Redis() takes work.
    if "unix_socket_path" in kwargs:
        kwargs["path"] = kwargs.pop("unix_socket_path")
    if kwargs.pop("ssl", False):
        kwargs["connection_class"] = SSLConnection
    elif "path" in kwargs:
        kwargs.setdefault("connection_class", UnixDomainSocketConnection)
    return kwargs


def _parse_one(host: object) -> HostSpec:
    host = _plain(host)
    if isinstance(host, str):
        if not host.startswith(("redis://", "rediss://", "unix://")):
            raise InvalidChannelLayerError(
                f"host URL must start with redis://, rediss:// or unix://, got {redact(host)!r}"
            )
        return HostSpec(url=SecretStr(host))
    if isinstance(host, Sequence) and len(host) == 2:
        address, port = host
        return HostSpec(kwargs={"host": str(address), "port": int(port)})
    if isinstance(host, Mapping):
        options = dict(host)
        if "sentinels" in options or "master_name" in options:
            sentinels = tuple((str(h), int(p)) for h, p in options.pop("sentinels", ()))
            master = options.pop("master_name", None)
            if not sentinels or not isinstance(master, str):
                raise InvalidChannelLayerError(
                    "a Sentinel host needs 'sentinels': [(host, port), ...] and 'master_name'"
                )
            sentinel_kwargs = _hidden(options.pop("sentinel_kwargs", None) or {})
            return HostSpec(
                kwargs=_hidden(options),
                sentinels=sentinels,
                master_name=master,
                sentinel_kwargs=sentinel_kwargs,
            )
        address = _plain(options.pop("address", None))
        if address is not None:
            if isinstance(address, str):
                return HostSpec(url=_parse_one(address).url, kwargs=_hidden(options))
            options.update(_parse_one(address).kwargs)
        return HostSpec(kwargs=_hidden(_with_ssl_class(options)))
    raise InvalidChannelLayerError(f"cannot understand host {redact(host)!r}")


def parse_hosts(hosts: object) -> list[HostSpec]:
    """Turn the ``hosts`` setting into specs; ``None`` means ``redis://localhost:6379``."""
    if hosts is None:
        hosts = list(DEFAULT_HOSTS)
    if isinstance(hosts, (str, Mapping, SecretStr)):
        hosts = [hosts]
    if not isinstance(hosts, Sequence) or not hosts:
        raise InvalidChannelLayerError(f"hosts must be a non-empty list, got {redact(hosts)!r}")
    specs = [_parse_one(host) for host in hosts]
    identities = [spec.identity for spec in specs]
    if len(set(identities)) != len(identities):
        raise InvalidChannelLayerError(f"hosts lists the same server twice: {identities}")
    return specs

"""Trusted-proxy handling: X-Forwarded-For/-Proto/-Host/-Prefix, believed only from
configured peers.

Why only from configured peers: any client can send these headers. Believing them from
everyone lets a client pick its own address (defeating IP allow-lists and rate limits)
and its own scheme (making the application build ``https`` links or set secure cookies
over plain HTTP). So the headers are ignored unless the TCP peer itself is trusted.

X-Forwarded-For is read right to left: each trusted hop appended the address it saw, so
the client is the rightmost address that is *not* a trusted proxy. Taking the leftmost
one would let the client forge it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["Forwarded", "TrustedProxies", "parse_trusted"]

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_trusted(entries: Iterable[str]) -> tuple[tuple[_Network, ...], bool]:
    """``(networks, trust_unix)``; ``ValueError`` naming the first bad entry."""
    networks: list[_Network] = []
    unix = False
    for entry in entries:
        if entry == "unix":
            unix = True
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"trusted_proxies entry {entry!r} is not a CIDR or 'unix'") from exc
    return tuple(networks), unix


@dataclass(frozen=True, slots=True)
class Forwarded:
    """What the proxy chain says about the original request (``None``: not said)."""

    client: str | None = None
    scheme: str | None = None
    host: bytes | None = None
    prefix: str | None = None


def _last(values: Sequence[bytes]) -> str | None:
    # Several copies of one header: the nearest proxy's (last) copy wins.
    if not values:
        return None
    return values[-1].decode("latin-1").split(",")[-1].strip() or None


class TrustedProxies:
    """``TrustedProxies(["10.0.0.0/8", "unix"]).forwarded(peer, headers)``."""

    def __init__(self, entries: Iterable[str]) -> None:
        self._networks, self._unix = parse_trusted(entries)

    @property
    def enabled(self) -> bool:
        return bool(self._networks) or self._unix

    def is_trusted(self, address: str | None) -> bool:
        """``address`` is an IP string, or ``None`` for a Unix-socket peer."""
        if address is None:
            return self._unix
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self._networks)

    def forwarded(self, peer: str | None, headers: Sequence[tuple[bytes, bytes]]) -> Forwarded:
        """Read the X-Forwarded-* headers if ``peer`` is trusted; lowercased names."""
        if not self.enabled or not self.is_trusted(peer):
            return Forwarded()
        found: dict[bytes, list[bytes]] = {}
        for name, value in headers:
            if name.startswith(b"x-forwarded-"):
                found.setdefault(name, []).append(value)
        client = self._client(found.get(b"x-forwarded-for", []))
        scheme = _last(found.get(b"x-forwarded-proto", []))
        if scheme is not None:
            scheme = scheme.lower()
            if scheme not in ("http", "https", "ws", "wss"):
                scheme = None
        host = _last(found.get(b"x-forwarded-host", []))
        prefix = _last(found.get(b"x-forwarded-prefix", []))
        if prefix is not None and (not prefix.startswith("/") or "//" in prefix):
            prefix = None
        return Forwarded(
            client=client,
            scheme=scheme,
            host=host.encode("latin-1") if host else None,
            prefix=prefix.rstrip("/") if prefix else None,
        )

    def _client(self, values: list[bytes]) -> str | None:
        hops = [h.strip() for v in values for h in v.decode("latin-1").split(",") if h.strip()]
        # Walk from the nearest hop outwards; the first address we do not trust is the
        # client. If every hop is trusted, the farthest one is the best we know.
        for hop in reversed(hops):
            if not self.is_trusted(hop):
                return _valid_ip(hop)
        return _valid_ip(hops[0]) if hops else None


def _valid_ip(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None  # "unknown", obfuscated identifiers, garbage: keep the peer address.

"""The Origin check of the opening handshake.

Browsers send ``Origin`` on every WebSocket handshake and let any page open a socket
to any server, with the user's cookies. Without this check a hostile page can talk to
the application as the logged-in user (cross-site WebSocket hijacking), so the allowed
origins are configured and everything else is refused with 403 before a consumer runs.

Two kinds of rule, either of which may allow an origin:

* ``allowed_origins``: glob patterns on the whole origin (``https://*.example.com``);
  ``*`` allows every origin;
* ``allowed_hosts``: host patterns as Django's ``ALLOWED_HOSTS`` has them, matched
  against the origin's host whatever its scheme (``http``/``https``) and port:
  ``example.com`` that host, ``.example.com`` it and its subdomains, ``*`` any. This
  is what Channels' ``AllowedHostsOriginValidator`` checks, and what a Django project
  gets by default (``telephonist.django.settings``): a site whose pages are served
  from its allowed hosts accepts sockets from those pages and from no other site.

An origin that is not a plain ``http(s)://host[:port]`` (``null`` from a sandboxed
frame or a ``file:`` page, anything with a path or credentials) matches no host rule.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

__all__ = ["OriginPolicy", "origin_host"]


def origin_host(origin: str) -> str | None:
    """The host of a serialized origin, lower case (IPv6 in brackets, as Django's
    ``ALLOWED_HOSTS`` writes it); ``None`` when ``origin`` is not ``http(s)://host[:port]``."""
    try:
        parts = urlsplit(origin.strip())
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    if parts.username is not None or parts.path not in ("", "/") or parts.query:
        return None
    if parts.fragment or "@" in parts.netloc:
        return None
    host = parts.hostname.lower().rstrip(".")
    return f"[{host}]" if ":" in host else host


def _host_matches(host: str, pattern: str) -> bool:
    # django.utils.http.is_same_domain, without importing Django here.
    pattern = pattern.lower()
    if pattern == "*":
        return True
    if pattern.startswith("."):
        return host == pattern[1:] or host.endswith(pattern)
    return host == pattern


class OriginPolicy:
    """``OriginPolicy(["https://*.example.com"]).allows("https://app.example.com")``;
    ``OriginPolicy([], hosts=[".example.com"]).allows("https://app.example.com:8443")``."""

    def __init__(
        self,
        patterns: Iterable[str],
        allow_missing: bool = True,
        hosts: Iterable[str] | None = None,
    ) -> None:
        self._any = False
        rules: list[str] = []
        for pattern in patterns:
            if pattern == "*":
                self._any = True
            rules.append(fnmatch.translate(pattern.lower().rstrip("/")))
        self._re = re.compile("|".join(rules)) if rules else None
        self._hosts = [h for h in (hosts or ()) if h]
        self.allow_missing = allow_missing

    @property
    def allows_any(self) -> bool:
        """Whether every origin is allowed (a ``*`` rule of either kind)."""
        return self._any or "*" in self._hosts

    def allows(self, origin: str | None) -> bool:
        """``origin`` is the header value, ``None`` when the header is absent."""
        if origin is None:
            return self.allow_missing
        if self.allows_any:
            return True
        if self._re is not None and self._re.fullmatch(origin.strip().lower().rstrip("/")):
            return True
        host = origin_host(origin) if self._hosts else None
        return host is not None and any(_host_matches(host, p) for p in self._hosts)

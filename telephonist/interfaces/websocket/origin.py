"""The Origin check of the opening handshake.

Browsers send ``Origin`` on every WebSocket handshake and let any page open a socket
to any server, with the user's cookies. Without this check a hostile page can talk to
the application as the logged-in user (cross-site WebSocket hijacking), so the allowed
origins are configured and everything else is refused with 403 before a consumer runs.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable

__all__ = ["OriginPolicy"]


class OriginPolicy:
    """``OriginPolicy(["https://*.example.com"]).allows("https://app.example.com")``."""

    def __init__(self, patterns: Iterable[str], allow_missing: bool = True) -> None:
        self._any = False
        rules: list[str] = []
        for pattern in patterns:
            if pattern == "*":
                self._any = True
            rules.append(fnmatch.translate(pattern.lower().rstrip("/")))
        self._re = re.compile("|".join(rules)) if rules else None
        self.allow_missing = allow_missing

    def allows(self, origin: str | None) -> bool:
        """``origin`` is the header value, ``None`` when the header is absent."""
        if origin is None:
            return self.allow_missing
        if self._any:
            return True
        if self._re is None:
            return False
        return self._re.fullmatch(origin.strip().lower().rstrip("/")) is not None

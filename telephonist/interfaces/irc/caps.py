"""IRCv3 capability negotiation and SASL, as a state machine. Pure: lines in, lines out.

Theory of operation
-------------------
The ``irc`` library's asyncio connection registers with NICK/USER at once and has no
SASL, so the connection sends ``CAP LS 302`` *before* NICK and USER (which suspends
registration until ``CAP END``) and feeds every line to :class:`Negotiation` until it
says it is done. The table of states:

=============  ===========================  ==========================================
state          on                            do
=============  ===========================  ==========================================
``ls``         ``CAP * LS [*] :caps``       collect; on the last LS line send
                                            ``CAP REQ`` for the wanted caps offered, or
                                            end
``req``        ``CAP * ACK :caps``          if ``sasl`` acked: ``AUTHENTICATE MECH``,
                                            else end
``req``        ``CAP * NAK :caps``          (a REQ is all-or-nothing) end without caps
``sasl``       ``AUTHENTICATE +``           send the credentials, base64 in 400-byte
                                            chunks
``sasl``       903 / 907                    success: end
``sasl``       902, 904, 905, 906           failure: end, or fail the attempt when
                                            SASL is required
any            001, 421 / 410 (no CAP)      the server does not negotiate: done
=============  ===========================  ==========================================

"end" means ``CAP END`` and ``done``. When SASL is required but not offered or not
successful, ``failure`` is set and the connection gives up this attempt (QUIT, back-off)
rather than appear on the network unidentified. After registration the same object
follows ``CAP NEW``/``DEL``/``ACK`` (cap-notify) to keep ``enabled`` right.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from .lines import Line, format_line

__all__ = ["Negotiation", "SaslCredentials"]

_SASL_CHUNK = 400  # IRCv3 SASL: payloads go in 400-byte AUTHENTICATE lines.
_SASL_FAILURES = {"902", "904", "905", "906"}

State = Literal["ls", "req", "sasl", "done"]


@dataclass(frozen=True, slots=True)
class SaslCredentials:
    mechanism: Literal["PLAIN", "EXTERNAL"]
    username: str = ""
    password: str = ""
    required: bool = True

    def payload(self) -> str:
        if self.mechanism == "EXTERNAL":
            return ""  # the identity is the TLS client certificate
        raw = f"{self.username}\0{self.username}\0{self.password}".encode()
        return base64.b64encode(raw).decode("ascii")


def _authenticate_lines(payload: str) -> list[str]:
    if not payload:
        return ["AUTHENTICATE +"]
    chunks = [payload[i : i + _SASL_CHUNK] for i in range(0, len(payload), _SASL_CHUNK)]
    if len(chunks[-1]) == _SASL_CHUNK:
        chunks.append("+")  # an exactly-400 last chunk must be followed by "+"
    return [f"AUTHENTICATE {chunk}" for chunk in chunks]


class Negotiation:
    """One registration's CAP (and SASL) exchange."""

    def __init__(self, wanted: Iterable[str], sasl: SaslCredentials | None = None) -> None:
        self.wanted = tuple(wanted)
        self.sasl = sasl
        self.state: State = "ls"
        self.offered: dict[str, str] = {}
        self.enabled: set[str] = set()
        self.sasl_outcome: Literal["none", "success", "failed"] = "none"
        self.account: str | None = None
        self.failure: str | None = None

    @property
    def done(self) -> bool:
        return self.state == "done"

    def start(self) -> list[str]:
        return ["CAP LS 302"]

    def _end(self) -> list[str]:
        self.state = "done"
        return ["CAP END"]

    def _fail_or_end(self, reason: str) -> list[str]:
        if self.sasl is not None and self.sasl.required:
            self.failure = reason
            self.state = "done"
            return []
        return self._end()

    def _request(self) -> list[str]:
        want = [cap for cap in self.wanted if cap in self.offered]
        if self.sasl is not None:
            mechs = self.offered.get("sasl")
            if mechs is None:
                return self._fail_or_end("the server offers no SASL")
            if mechs and self.sasl.mechanism not in mechs.upper().split(","):
                return self._fail_or_end(f"the server's SASL lacks {self.sasl.mechanism}")
            want.append("sasl")
        if not want:
            return self._end()
        self.state = "req"
        return [format_line("CAP", "REQ", " ".join(want))]

    def feed(self, line: Line) -> list[str]:
        """Lines to send in answer to ``line`` (often none)."""
        command = line.command
        if command == "CAP":
            return self._on_cap(line.param(1).upper(), line)
        if self.state == "done":
            return []
        if command == "001" or (command in ("410", "421") and line.param(1).upper() == "CAP"):
            self.state = "done"  # registered without (finishing) CAP: nothing to end
            return []
        if self.state != "sasl":
            return []
        if command == "AUTHENTICATE" and line.param(0) == "+":
            assert self.sasl is not None
            return _authenticate_lines(self.sasl.payload())
        if command == "900":
            self.account = line.param(2) or None
        elif command in ("903", "907"):
            self.sasl_outcome = "success"
            return self._end()
        elif command in _SASL_FAILURES:
            self.sasl_outcome = "failed"
            return self._fail_or_end(f"SASL failed ({command}: {line.param(-1)})")
        return []

    def _on_cap(self, sub: str, line: Line) -> list[str]:
        caps = line.param(-1).split()
        if sub in ("LS", "NEW"):
            for item in caps:
                name, _, value = item.partition("=")
                self.offered[name] = value
            if sub == "NEW":
                new = [c for c in self.wanted if c in caps and c not in self.enabled]
                return [format_line("CAP", "REQ", " ".join(new))] if new else []
            more = len(line.params) > 3 and line.param(2) == "*"
            return [] if more or self.state != "ls" else self._request()
        if sub == "DEL":
            for name in caps:
                self.offered.pop(name, None)
                self.enabled.discard(name)
            return []
        if sub == "ACK":
            for name in caps:
                if name.startswith("-"):
                    self.enabled.discard(name[1:])
                else:
                    self.enabled.add(name)
            if self.state != "req":
                return []
            if "sasl" in self.enabled and self.sasl is not None:
                self.state = "sasl"
                return [format_line("AUTHENTICATE", self.sasl.mechanism)]
            return self._end()
        if sub == "NAK" and self.state == "req":
            return self._fail_or_end("the server refused our CAP REQ")
        return []

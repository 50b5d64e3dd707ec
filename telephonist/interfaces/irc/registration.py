"""One registration: CAP and SASL, PASS/NICK/USER, nick fallbacks. Pure: lines in, lines out.

Theory of operation
-------------------
Registration starts with ``CAP LS 302`` (which suspends registration until ``CAP END``),
then ``PASS`` when a server password is set, ``NICK`` and ``USER``. The
:class:`~.caps.Negotiation` runs CAP and SASL. Until 001 arrives the server may refuse
our nick (431/432/433/436/437): we answer with the next candidate, the configured
``alt_nicks`` first, then ``nick_``, ``nick__`` and a few with random digits, a bounded
list. A refused password (464), a ban (465), no nick left, or a required SASL that did
not succeed set ``failure``: the attempt is abandoned (QUIT, back-off, retry) rather
than carried on in a state the operator did not ask for.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from .caps import Negotiation, SaslCredentials
from .config import NetworkConfig
from .lines import Line, format_line

__all__ = ["Registration", "nick_candidates", "sasl_credentials"]

_NICK_ERRORS = {"431", "432", "433", "436", "437"}
_FATAL = {"464": "wrong server password", "465": "banned from the server"}


def nick_candidates(config: NetworkConfig) -> Iterator[str]:
    """Nicks to try, in order, after the configured one is refused."""
    yield from config.alt_nicks
    yield config.nick + "_"
    yield config.nick + "__"
    for _ in range(5):
        yield f"{config.nick[:12]}{random.randint(1000, 9999)}"


def sasl_credentials(config: NetworkConfig) -> SaslCredentials | None:
    if config.sasl_mechanism == "none":
        return None
    if config.sasl_mechanism == "external":
        return SaslCredentials("EXTERNAL", required=config.sasl_required)
    password = config.sasl_password.get_secret_value() if config.sasl_password else ""
    username = config.sasl_username or config.nick
    return SaslCredentials("PLAIN", username, password, config.sasl_required)


class Registration:
    def __init__(self, config: NetworkConfig) -> None:
        self.config = config
        self.negotiation = Negotiation(config.caps, sasl_credentials(config))
        self.nick = config.nick
        self.registered = False
        self.failure: str | None = None
        self._nicks = nick_candidates(config)

    def start(self) -> list[str]:
        config = self.config
        lines = self.negotiation.start()  # CAP LS first: it suspends registration
        if config.password is not None:
            lines.append(format_line("PASS", config.password.get_secret_value()))
        lines.append(format_line("NICK", config.nick))
        lines.append(format_line("USER", config.username, "0", "*", config.realname))
        return lines

    def feed(self, line: Line) -> list[str]:
        """Lines to send in answer to ``line``; check ``failure`` afterwards."""
        command = line.command
        out: list[str] = []
        if command == "CAP" or not self.negotiation.done:
            out = self.negotiation.feed(line)
            if self.negotiation.failure:
                self.failure = self.negotiation.failure
                return []
        if self.registered:
            return out
        if command in _NICK_ERRORS:
            nick = next(self._nicks, None)
            if nick is None:
                self.failure = "no free nick among the candidates"
                return []
            self.nick = nick
            out.append(format_line("NICK", nick))
        elif command in _FATAL:
            self.failure = _FATAL[command]
        elif command == "001":
            self.registered = True
            self.nick = line.param(0, self.nick)
        return out

"""CTCP: requests and replies carried inside PRIVMSG and NOTICE text. Pure: no I/O.

Theory of operation
-------------------
A CTCP message is a whole PRIVMSG (request) or NOTICE (reply) whose text is
``\\x01VERB[ params]\\x01``; the closing ``\\x01`` is optional because some clients omit
it. We follow the modern reading (ircdocs' CTCP draft): only a whole message is CTCP,
never a ``\\x01`` embedded in ordinary text, and there is no low-level quoting. ACTION
(``/me``) is the one CTCP that carries chat; VERSION, PING, TIME and CLIENTINFO are
answered by the interface itself, everything else is ignored (and counted).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ANSWERED", "DELIM", "Ctcp", "answer", "format_ctcp", "parse_ctcp"]

DELIM = "\x01"


@dataclass(frozen=True, slots=True)
class Ctcp:
    verb: str  # upper-case
    params: str


def parse_ctcp(text: str) -> Ctcp | None:
    """The CTCP inside ``text``, or ``None`` when ``text`` is ordinary chat."""
    if len(text) < 2 or not text.startswith(DELIM):
        return None
    body = text[1:-1] if text.endswith(DELIM) else text[1:]
    verb, _, params = body.partition(" ")
    if not verb or DELIM in body:
        return None  # "\x01\x01" or a second delimiter inside: not a well-formed CTCP
    return Ctcp(verb.upper(), params)


def format_ctcp(verb: str, params: str = "") -> str:
    """``\\x01VERB params\\x01``. The caller sanitises ``params`` (no ``\\x01``, no breaks)."""
    if not verb.isalnum():
        raise ValueError(f"bad CTCP verb {verb!r}")
    return f"{DELIM}{verb.upper()} {params}{DELIM}" if params else f"{DELIM}{verb.upper()}{DELIM}"


#: The CTCP requests the interface answers itself (CLIENTINFO lists them).
ANSWERED = ("ACTION", "CLIENTINFO", "PING", "TIME", "VERSION")


def answer(request: Ctcp, version: str, now: str) -> str | None:
    """The reply text (to send in a NOTICE) for ``request``, or ``None`` to stay silent.

    ``now`` is the local time as text, passed in so this stays pure."""
    if request.verb == "VERSION":
        return format_ctcp("VERSION", version)
    if request.verb == "PING":
        return format_ctcp("PING", request.params)
    if request.verb == "TIME":
        return format_ctcp("TIME", now)
    if request.verb == "CLIENTINFO":
        return format_ctcp("CLIENTINFO", " ".join(ANSWERED))
    return None

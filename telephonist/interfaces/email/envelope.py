"""Envelope addresses: which forms ``MAIL FROM`` and ``RCPT TO`` may use. Pure.

Theory of operation
-------------------
aiosmtpd parses ``<address>`` with the stdlib's header parser, which silently *drops* a
source route (``<@relay.example:user@example.org>`` arrives as ``user@example.org``) and
accepts every local part RFC 5321 allows. Some of those forms are how mail used to be
relayed through a host: the percent hack (``user%elsewhere@us``), bang paths
(``elsewhere!user@us``), source routes. We never relay, but a reply goes *from* the
address a mail was sent to and *to* its sender, through a relay that may still honour
those forms, so an address like that could make the service send mail where the
address, not the operator, says. Every such form is refused at the command that names
it, with the answer its kind calls for:

==========================================  =========================================
address                                     answer (``X`` is 3 for RCPT, 7 for MAIL)
==========================================  =========================================
source route ``<@a,@b:user@domain>``        ``501 5.1.X`` (syntax we do not accept)
local part over 64 octets, domain over 255  ``501 5.1.X`` (RFC 5321 4.5.3.1 limits)
``%`` or ``!`` in the local part            ``553 5.1.X`` (mailbox name not allowed)
a quoted local part (``"a@b"@domain``)      ``553 5.1.X``
==========================================  =========================================

The null sender ``<>`` (bounces) is not an address and is always allowed.

Before any of that, aiosmtpd reads the address with the stdlib's RFC 5322 header parser
(``get_angle_addr``), a token tree built in Python (and a class defined) for every
``MAIL`` and ``RCPT``: measured, more than half the instructions the bare aiosmtpd sink
executes per mail. :func:`plain_address` reads the form nearly every client sends,
``<local@domain>`` with dot-atoms and then parameters, in one regex, and gives what the
header parser would (a property test checks it); any other form still goes through
aiosmtpd's own parsing.
"""

from __future__ import annotations

import re

__all__ = [
    "MAX_DOMAIN",
    "MAX_LOCAL_PART",
    "address_problem",
    "has_source_route",
    "plain_address",
    "route_refusal",
]

MAX_LOCAL_PART = 64  # octets, RFC 5321 4.5.3.1.1
MAX_DOMAIN = 255  # octets, RFC 5321 4.5.3.1.2

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
# <dot-atom@dot-atom>, then nothing or blanks and parameters (which start with neither a
# blank nor a comment: the header parser would skip both).
_PLAIN = re.compile(
    rf"<({_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>(?:[ \t]+([^ \t(].*))?"
)


def plain_address(argument: str) -> tuple[str, str] | None:
    """``(address, parameters)`` of a ``MAIL``/``RCPT`` argument (after ``FROM:``/``TO:``)
    of the common form, as aiosmtpd's parsing returns them; ``None`` for any other form."""
    found = _PLAIN.fullmatch(argument)
    if found is None:
        return None
    return found[1], found[2] or ""


def has_source_route(argument: str) -> bool:
    """Whether the raw ``MAIL``/``RCPT`` argument (after ``FROM:``/``TO:``) names a
    source route, which the parser would drop without a trace."""
    return argument.lstrip().startswith("<@")


def _code(sender: bool) -> str:
    return "5.1.7" if sender else "5.1.3"


def route_refusal(sender: bool) -> str:
    return f"501 {_code(sender)} Source routes are not accepted"


def address_problem(address: str, sender: bool) -> str | None:
    """The SMTP answer refusing ``address`` (as parsed), or ``None`` if it is fine."""
    if sender and address in ("", "<>"):
        return None
    code = _code(sender)
    local, at, domain = address.rpartition("@")
    if not at:
        return f"501 {code} Address must be local-part@domain"
    if len(local.encode("utf-8", "surrogateescape")) > MAX_LOCAL_PART:
        return f"501 {code} Local part longer than {MAX_LOCAL_PART} octets"
    if len(domain.encode("utf-8", "surrogateescape")) > MAX_DOMAIN:
        return f"501 {code} Domain longer than {MAX_DOMAIN} octets"
    if local.startswith('"') or "@" in local:
        return f"553 {code} Quoted local parts are not accepted"
    if "%" in local or "!" in local:
        return f"553 {code} Relay forms (% and !) are not accepted"
    return None

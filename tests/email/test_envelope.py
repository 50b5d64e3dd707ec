"""Envelope address forms: the one-regex reading of ``<local@domain>`` against aiosmtpd's."""

from __future__ import annotations

from typing import Any

from aiosmtpd.smtp import SMTP
from hypothesis import given, settings
from hypothesis import strategies as st

from telephonist.interfaces.email.envelope import plain_address
from telephonist.interfaces.email.server import SMTPSession


class _Bare:
    local_part_limit = 0


def _aiosmtpd(arg: str) -> Any:
    try:
        return SMTP._getaddr(_Bare(), arg)
    except Exception as exc:  # the header parser raises on some input (``<``): kept
        return type(exc)


def _ours(arg: str) -> Any:
    session = SMTPSession.__new__(SMTPSession)  # only the parsing: no connection
    session.local_part_limit = 0
    try:
        return session._getaddr(arg)
    except Exception as exc:
        return type(exc)


_PIECES = st.sampled_from(
    ["<", ">", "@", ".", " ", "\t", "a", "Z", "0", "-", "+", "_", "=", "%", "!", '"', "(",
     ")", "[", "]", ":", ",", "\\", "\u00e9", "SIZE=12", "BODY=8BITMIME", "x.org", "ann"]
)  # fmt: skip
_ARGUMENTS = st.lists(_PIECES, max_size=16).map("".join) | st.from_regex(
    r"<[a-z0-9.+_-]{1,10}@[a-z0-9.-]{1,12}>( [A-Z]+=[A-Z0-9]+)?", fullmatch=True
)


@settings(max_examples=1000)
@given(_ARGUMENTS)
def test_the_plain_form_reads_as_aiosmtpd_reads_it(arg: str) -> None:
    plain = plain_address(arg)
    if plain is not None:
        assert plain == _aiosmtpd(arg)
    assert _ours(arg) == _aiosmtpd(arg)  # through the session's hook, whichever way


def test_common_forms_take_the_regex() -> None:
    assert plain_address("<ann@example.org>") == ("ann@example.org", "")
    assert plain_address("<a.b+c@mail.example.org> SIZE=120 BODY=8BITMIME") == (
        "a.b+c@mail.example.org",
        "SIZE=120 BODY=8BITMIME",
    )
    assert plain_address("<@relay:ann@example.org>") is None
    assert plain_address('<"a b"@example.org>') is None
    assert plain_address("<>") is None

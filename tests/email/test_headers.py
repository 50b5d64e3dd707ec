"""RFC 2047 decoding and address parsing: total, injection-free, round-tripping."""

from __future__ import annotations

from email.header import Header
from email.utils import getaddresses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telephonist.interfaces.email import headers
from telephonist.interfaces.email.headers import (
    charset_decode,
    clean_text,
    decode_header_value,
    parse_addresses,
    parse_msg_ids,
)

# Text a person could put in a subject: any printable character, no controls.
printable = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=0, max_size=200
)


@given(printable, st.sampled_from(["utf-8", "iso-8859-1", "utf-16", "shift_jis"]))
def test_rfc2047_round_trip(text: str, charset: str) -> None:
    try:
        text.encode(charset)
    except UnicodeEncodeError:
        charset = "utf-8"
    encoded = Header(text, charset, maxlinelen=76).encode()
    assert decode_header_value(encoded) == text.strip()


@given(st.text(max_size=300))
def test_decoding_is_total_and_yields_one_clean_line(value: str) -> None:
    decoded = decode_header_value(value)
    assert "\r" not in decoded
    assert "\n" not in decoded
    decoded.encode("utf-8")  # valid UTF-8: msgpack can carry it


@given(st.binary(max_size=200))
def test_raw_8bit_headers_decode(raw: bytes) -> None:
    # The stdlib parser hands 8-bit header bytes over as surrogate escapes.
    value = raw.decode("ascii", "surrogateescape")
    decode_header_value(value).encode("utf-8")


def test_utf8_header_without_encoding() -> None:
    value = "Caf\u00e9 cr\u00e8me".encode().decode("ascii", "surrogateescape")
    assert decode_header_value(value) == "Caf\u00e9 cr\u00e8me"


def test_latin1_header_without_encoding() -> None:
    value = "Caf\u00e9".encode("latin-1").decode("ascii", "surrogateescape")
    assert decode_header_value(value) == "Caf\u00e9"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("=?utf-8?q?caf=C3=A9?= au lait", "caf\u00e9 au lait"),
        ("=?utf-8?b?w6k=?= =?utf-8?b?w6k=?=", "\u00e9\u00e9"),  # space between words dropped
        ("=?utf-8?b?w6k?=", "\u00e9"),  # missing base64 padding
        ("=?utf-8?b?ww==?= =?utf-8?b?qQ==?=", "\u00e9"),  # one character split across words
        ("=?x-unknown?q?abc?=", "abc"),
        ("=?utf-8*en?q?hi?=", "hi"),  # RFC 2231 language suffix
        ("=?utf-8?q?a=0D=0ABcc:_x?=", "a  Bcc: x"),  # encoded CR/LF neutralised
        ("folded\r\n line", "folded line"),
    ],
)
def test_decoding_examples(raw: str, expected: str) -> None:
    assert decode_header_value(raw) == expected


def test_addresses_split_before_decoding() -> None:
    # An encoded display name must not be able to smuggle in another address.
    raw = "=?utf-8?q?=3Cevil=40x.org=3E=2C_b=40c.d?= <good@example.com>"
    assert parse_addresses(raw) == [("<evil@x.org>, b@c.d", "good@example.com")]


def test_address_lists_and_garbage() -> None:
    assert parse_addresses("a@b.c, Ann <ann@x.org>", "undisclosed-recipients:;") == [
        ("", "a@b.c"),
        ("Ann", "ann@x.org"),
    ]


def test_msg_ids() -> None:
    assert parse_msg_ids(" <a@b>\r\n <c@d> junk <e f@g>") == ["<a@b>", "<c@d>"]
    assert parse_msg_ids(None) == []
    assert len(parse_msg_ids(" ".join(f"<{i}@x>" for i in range(500)))) == 100


@given(st.binary(max_size=100), st.sampled_from([None, "utf-8", "us-ascii", "bogus", "utf-16"]))
def test_charset_decode_is_total(data: bytes, charset: str | None) -> None:
    charset_decode(data, charset).encode("utf-8")


@settings(max_examples=500)
@given(
    st.text(
        st.characters(min_codepoint=0x20, max_codepoint=0x7E) | st.sampled_from("\t\r\n\x00\x7f=?"),
        max_size=100,
    )
)
def test_the_printable_ascii_shortcuts_agree_with_the_full_decoding(value: str) -> None:
    """``clean_text`` and ``decode_header_value`` return printable ASCII (without an
    encoded word) at once; the full treatment gives the same answer for all of it."""
    if value.isprintable():
        assert clean_text(value) == headers._CONTROL.sub(" ", headers.scrub(value))
        if "=?" not in value:
            assert decode_header_value(value) == headers._decode_header_value(value)
    for word in ("=?utf-8?q?x?=", "=?", "?="):
        joined = value + word
        assert decode_header_value(joined) == headers._decode_header_value(joined)


@given(st.text(max_size=100))
def test_clean_text_removes_every_line_break(value: str) -> None:
    cleaned = clean_text(value)
    assert not any(ch in cleaned for ch in "\r\n\x00\x0b\x0c\x85\u2028\u2029")


@settings(max_examples=500)
@given(st.from_regex(headers._SIMPLE_ADDRESS, fullmatch=True))
def test_the_simple_address_shortcut_agrees_with_the_full_parser(value: str) -> None:
    """``parse_addresses`` skips ``getaddresses`` for ``a@b`` and ``Name <a@b>``; for
    every value the shortcut takes, the answer is the one the full parser gives."""
    full = [
        (decode_header_value(name), addr)
        for name, addr in getaddresses([value])
        if "@" in addr and " " not in addr
    ]
    assert parse_addresses(value) == full

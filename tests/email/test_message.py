"""MIME -> email.receive content keys: faithful for well-formed mail, total for the rest."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from typing import Any
from unittest import mock

import msgpack
from hypothesis import given, settings
from hypothesis import strategies as st

from telephonist.interfaces.email import message
from telephonist.interfaces.email.message import ParseLimits, html_to_text, parse_message
from telephonist.interfaces.email.simple import plain_charset, split_simple

words = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=0, max_size=60
)
# set_content() turns every line break it knows into \n: keep to \n in the bodies.
_BREAKS = "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
body_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters=_BREAKS), max_size=300
)
attachment = st.tuples(
    st.from_regex(r"[A-Za-z0-9_-]{1,12}\.(bin|pdf|png)", fullmatch=True),
    st.binary(max_size=2000),
)


def _client_message(
    subject: str, text: str, html: str | None, attachments: list[tuple[str, bytes]]
) -> bytes:
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = "Ann Example <ann@example.com>"
    msg["To"] = "support@example.org"
    msg["Subject"] = subject
    msg["Message-ID"] = "<m1@example.com>"
    msg["In-Reply-To"] = "<m0@example.org>"
    msg["References"] = "<r0@example.org> <m0@example.org>"
    msg.set_content(text)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    for name, data in attachments:
        msg.add_attachment(data, "application", "octet-stream", filename=name)
    return msg.as_bytes()


@settings(max_examples=150)
@given(words, body_text, st.one_of(st.none(), body_text), st.lists(attachment, max_size=3))
def test_mapping(
    subject: str, text: str, html: str | None, attachments: list[tuple[str, bytes]]
) -> None:
    parsed = parse_message(_client_message(subject, text, html, attachments))
    assert parsed["subject"] == subject.strip()
    assert parsed["user"] == "ann@example.com"
    assert parsed["user_name"] == "Ann Example"
    assert parsed["message_id"] == "<m1@example.com>"
    assert parsed["in_reply_to"] == "<m0@example.org>"
    assert parsed["references"] == ["<r0@example.org>", "<m0@example.org>"]
    # set_content normalises line endings and adds a final newline.
    assert parsed["plain"].rstrip("\n") == text.replace("\r\n", "\n").rstrip("\n")
    assert (parsed["html"] or "").rstrip("\n") == (html or "").rstrip("\n")
    assert [(a["name"], a["content"], a["size"]) for a in parsed["attachments"]] == [
        (n, d, len(d)) for n, d in attachments
    ]
    assert parsed["defects"] == []
    msgpack.packb(parsed, use_bin_type=True)  # every value crosses any layer


@settings(max_examples=300)
@given(st.binary(max_size=3000))
def test_total_on_arbitrary_bytes(raw: bytes) -> None:
    msgpack.packb(parse_message(raw), use_bin_type=True)


def test_limits_applied() -> None:
    limits = ParseLimits(body_limit=10, attachment_content_limit=100, attachments_total_limit=150)
    raw = _client_message("s", "x" * 50, None, [("a.bin", b"1" * 100), ("b.bin", b"2" * 100),
                                              ("c.bin", b"3" * 101)])  # fmt: skip
    parsed = parse_message(raw, limits)
    assert parsed["truncated"] is True
    assert len(parsed["plain"]) == 10
    assert [a["content"] is not None for a in parsed["attachments"]] == [True, False, False]
    assert [a["size"] for a in parsed["attachments"]] == [100, 100, 101]


MALFORMED = b"""From: =?utf-8?q?broken <x@y.z>
Subject: =?bogus?b?!!!?= tail
Content-Type: multipart/mixed; boundary="never-closed"
Message-ID: not-an-id

--never-closed
Content-Type: text/plain; charset=no-such-charset
Content-Transfer-Encoding: base64

!!!! not base64 ====
--never-closed
Content-Type: text/html
Content-Transfer-Encoding: quoted-printable

<p>caf=C3=A9 =ZZ</p>
"""


def test_malformed_mime_still_yields_a_message() -> None:
    parsed = parse_message(MALFORMED)
    assert parsed["user"] == "x@y.z"
    assert parsed["message_id"] is None
    assert parsed["html"] is not None
    assert "caf\u00e9" in parsed["html"]
    assert "CloseBoundaryNotFoundDefect" in parsed["defects"]
    msgpack.packb(parsed, use_bin_type=True)


def test_8bit_headers_and_body() -> None:
    raw = (
        "From: Jos\u00e9 <jose@example.com>\r\nSubject: caf\u00e9 \u2615\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        "cr\u00e8me br\u00fbl\u00e9e\r\n"
    ).encode()
    parsed = parse_message(raw)
    assert parsed["subject"] == "caf\u00e9 \u2615"
    assert parsed["user_name"] == "Jos\u00e9"
    assert parsed["text"] == "cr\u00e8me br\u00fbl\u00e9e"


def test_html_only_mail_gets_chat_text() -> None:
    raw = (
        b"From: a@b.c\r\nContent-Type: text/html\r\n\r\n"
        b"<html><head><style>p{}</style></head><body><p>Hi <b>there</b></p>"
        b"<blockquote>old stuff</blockquote></body></html>"
    )
    parsed = parse_message(raw)
    assert parsed["plain"] is None
    assert parsed["text"] == "Hi there"


def test_html_to_text() -> None:
    assert html_to_text("<p>a</p><p>b&amp;c</p><script>x()</script>") == "a\n\nb&c"


def test_auto_submitted_and_nested_message() -> None:
    inner = b"From: x@y.z\r\nSubject: inner\r\n\r\nbody\r\n"
    raw = (
        b"From: a@b.c\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        b"Content-Type: text/plain\r\n\r\nsee attached\r\n--b\r\n"
        b"Content-Type: message/rfc822\r\n\r\n" + inner + b"--b--\r\n"
    )
    parsed = parse_message(raw)
    assert parsed["auto_submitted"] is True
    assert parsed["text"] == "see attached"
    [att] = parsed["attachments"]
    assert att["content_type"] == "message/rfc822"
    assert att["content"] is not None
    assert b"Subject: inner" in att["content"]


# -- the single plain-text part shortcut (simple.py) against the stdlib parser ----------

_NAMES = st.sampled_from(
    ["From", "To", "Cc", "Reply-To", "Subject", "Message-ID", "In-Reply-To", "References",
     "Date", "Auto-Submitted", "MIME-Version", "X-Mailer", "content-type", "Content-Type",
     "CONTENT-TRANSFER-ENCODING", "Content-Transfer-Encoding", "Content-Disposition",
     "From ", "X:Y", "", "X Y", "Caf\u00e9", "X-\x7f"]
)  # fmt: skip
_COMMON_NAMES = st.sampled_from(["From", "To", "Subject", "Message-ID", "Content-Type", "Date"])
_TYPES = st.sampled_from(
    ["text/plain", "TEXT/Plain; charset=UTF-8", 'text/plain; charset="iso-8859-1"',
     "text/plain; charset=utf-8; format=flowed", "text/plain; format=flowed; delsp=yes",
     "text/plain;charset=us-ascii", "text/plain; charset=utf-8;", "text/plain ; charset = utf-8",
     "text/plain; charset*=utf-8''x", "text/plain; name=a.txt", "text/plain; charset=bogus",
     'text/plain; charset="a;b"', "text/plain; charset=utf-16", "text/html", "text",
     "multipart/alternative; boundary=x", "message/rfc822", "text/plain\r\n charset=utf-8",
     "text/plain; charset=utf-8 (comment)", "text/plain; charset=\"utf-8"]
)  # fmt: skip
_ENCODINGS = st.sampled_from(
    ["7bit", "8bit", "binary", "base64", "Base64", "base64 ", "quoted-printable", "x-uue",
     "uuencode", "x-token", ""]
)  # fmt: skip
_VALUE_CHARS = st.characters(max_codepoint=0x7F) | st.sampled_from(
    ["=?utf-8?q?caf=C3=A9?=", "\u00e9", "\r\n ", "\r\n\t", "\n", "\r", "\x0c", "\x1c", "<a@b.c>",
     "Ann <ann@x.org>", "\u2028"]
)  # fmt: skip
_PRINTABLE = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30)
# Mostly what common mail has, often enough something the shortcut must refuse.
_VALUES = (
    _PRINTABLE
    | _PRINTABLE
    | _PRINTABLE
    | _PRINTABLE
    | _PRINTABLE
    | st.lists(_VALUE_CHARS, max_size=12).map("".join)
)


@st.composite
def _raw_mail(draw: st.DrawFn) -> bytes:
    fields: list[tuple[str, str]] = []
    for _ in range(draw(st.integers(1, 6))):
        name = draw(_NAMES if draw(st.integers(0, 9)) == 0 else _COMMON_NAMES)
        kind = name.lower()
        if kind == "content-type":
            value = draw(_TYPES)
        elif kind == "content-transfer-encoding":
            value = draw(_ENCODINGS)
        else:
            value = draw(_VALUES)
        fields.append((name, value))
    prefix = draw(st.sampled_from(["", "From ann@x.org Mon Dec  7\r\n", " fold\r\n", ":x\r\n"]))
    prefix = prefix if draw(st.integers(0, 9)) == 0 else ""
    colon = draw(st.sampled_from([": ", ":", ":  \t"]))
    head = prefix + "".join(f"{name}{colon}{value}\r\n" for name, value in fields)
    separator = draw(
        st.sampled_from(["\n", "", "\r"]) if draw(st.integers(0, 9)) == 0 else st.just("\r\n")
    )
    body = draw(
        st.binary(max_size=200)
        | st.lists(st.sampled_from(["line", "\r\n", "\n", "\r", "> quoted", "caf\u00e9", "-- "]))
        .map("".join)
        .map(str.encode)
    )
    return head.encode("utf-8", "surrogateescape") + separator.encode() + body


def _general(raw: bytes) -> dict[str, Any]:
    with mock.patch.object(message, "split_simple", return_value=None):
        return parse_message(raw)


@settings(max_examples=1000)
@given(_raw_mail())
def test_the_plain_text_shortcut_gives_what_the_stdlib_parser_gives(raw: bytes) -> None:
    """``parse_message`` reads the header items and body of a single plain-text part
    itself (``simple.py``); for every mail, taken or not, its keys are the ones the
    general parser gives."""
    assert parse_message(raw) == _general(raw)


def test_common_mail_takes_the_shortcut() -> None:
    raw = (
        b"From: Ann <ann@x.org>\r\nTo: room@localhost\r\nSubject: hi\r\n"
        b"References: <a@x.org>\r\n <b@x.org>\r\n"
        b"Content-Type: text/plain; charset=UTF-8; format=flowed\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\nHello\r\n"
    )
    simple = split_simple(raw)
    assert simple is not None
    items, body = simple
    assert plain_charset({n.lower(): v for n, v in reversed(items)}) == "utf-8"
    assert body == b"Hello\r\n"
    assert parse_message(raw) == _general(raw)

"""MIME -> email.receive content keys: faithful for well-formed mail, total for the rest."""

from __future__ import annotations

from email import policy
from email.message import EmailMessage

import msgpack
from hypothesis import given, settings
from hypothesis import strategies as st

from telephonist.interfaces.email.message import ParseLimits, html_to_text, parse_message

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

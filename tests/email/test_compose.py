"""Outbound composition: header injection impossible whatever the consumer passes."""

from __future__ import annotations

from email import message_from_bytes, policy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from telephonist.interfaces.email.compose import (
    ReplyContext,
    compose_reply,
    compose_send,
    parse_address,
    reply_subject,
)
from telephonist.interfaces.email.message import parse_message

anything = st.text(max_size=120)  # includes CR, LF, NUL, U+2028, surrogates excluded below
no_surrogates = st.text(st.characters(blacklist_categories=("Cs",)), max_size=120)


def _header_names(data: bytes) -> list[str]:
    return [name.lower() for name in message_from_bytes(data, policy=policy.SMTP)]


@settings(max_examples=200)
@given(no_surrogates, no_surrogates, no_surrogates)
def test_no_header_injection(subject: str, header_value: str, text: str) -> None:
    mail = compose_send(
        {"to": "a@example.com", "subject": subject, "text": text,
         "headers": {"X-Custom": header_value}},
        "bot@example.org",
    )  # fmt: skip
    assert _header_names(mail.data) == [
        "from", "to", "subject", "date", "message-id", "mime-version", "x-custom",
        "content-type", "content-transfer-encoding",
    ]  # fmt: skip
    assert mail.recipients == ("a@example.com",)
    parsed = parse_message(mail.data)
    # The subject survives, except that control characters became spaces and runs of
    # whitespace may shrink: RFC 2047 (6.2) has decoders drop the whitespace between two
    # adjacent encoded-words, so spaces between non-ASCII words are not all kept.
    from telephonist.interfaces.email.headers import clean_text

    assert _words(parsed["subject"]) == _words(clean_text(subject))


def _words(value: str) -> str:
    return "".join(value.split())


@given(anything)
def test_addresses_are_one_clean_addr_spec_or_refused(value: str) -> None:
    try:
        name, addr = parse_address(value, "to")
    except ValueError:
        return
    assert "\n" not in name + addr
    assert "\r" not in name + addr
    assert addr.count("@") == 1
    assert "," not in addr


@pytest.mark.parametrize(
    "bad",
    [
        "a@b.c\r\nBcc: evil@x.org",
        "a@b.c, evil@x.org",
        "not an address",
        "<>",
        "a@b.c\x00",
        "",
    ],
)
def test_bad_addresses_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="single mail address"):
        compose_send({"to": bad}, "bot@example.org")


@pytest.mark.parametrize("name", ["Bcc", "To", "content-type", "X Bad", "X-Bad:", "X-\u00e9"])
def test_structural_or_bad_extra_headers_refused(name: str) -> None:
    with pytest.raises(ValueError, match="header"):
        compose_send({"to": "a@b.c", "headers": {name: "v"}}, "bot@example.org")


def test_bcc_only_in_the_envelope() -> None:
    mail = compose_send(
        {"to": ["a@b.c"], "cc": "Cee <c@d.e>", "bcc": ["hidden@x.org", "a@b.c"],
         "subject": "s", "text": "t"},
        "bot@example.org",
    )  # fmt: skip
    assert mail.recipients == ("a@b.c", "c@d.e", "hidden@x.org")
    assert b"hidden" not in mail.data
    assert "bcc" not in _header_names(mail.data)


def test_no_recipient_or_sender_refused() -> None:
    with pytest.raises(ValueError, match="recipient"):
        compose_send({"subject": "x"}, "bot@example.org")
    with pytest.raises(ValueError, match="from_address"):
        compose_send({"to": "a@b.c"}, None)


def test_utf8_addresses_need_smtputf8() -> None:
    mail = compose_send({"to": "j\u00f6rg@b\u00fccher.example", "text": "x"}, "bot@example.org")
    assert mail.smtputf8 is True


def test_attachments() -> None:
    mail = compose_send(
        {"to": "a@b.c", "text": "see", "attachments": [{"name": "r.pdf", "content": b"%PDF"}]},
        "bot@example.org",
    )
    [att] = parse_message(mail.data)["attachments"]
    assert att["name"] == "r.pdf"
    assert att["content"] == b"%PDF"
    assert att["content_type"] == "application/pdf"
    with pytest.raises(ValueError, match="content_type"):
        compose_send(
            {"to": "a@b.c", "attachments": [{"name": "x", "content": b"", "content_type": "a\nb"}]},
            "bot@example.org",
        )


def test_reply() -> None:
    ctx = ReplyContext(
        own_address="Support@Example.org",
        reply_to="Ann <ann@example.com>",
        subject="Help\r\nBcc: evil@x.org",
        message_id="<m1@example.com>",
        references=("<m0@example.org>",),
    )
    mail = compose_reply(ctx, {"text": "On it."})
    parsed = parse_message(mail.data)
    assert mail.sender == "support@example.org"
    assert mail.recipients == ("ann@example.com",)
    assert parsed["subject"] == "Re: Help  Bcc: evil@x.org"
    assert parsed["in_reply_to"] == "<m1@example.com>"
    assert parsed["references"] == ["<m0@example.org>", "<m1@example.com>"]
    assert ["auto-submitted", "auto-replied"] in parsed["headers"]
    assert parsed["text"] == "On it."


@pytest.mark.parametrize(
    ("subject", "expected"),
    [("Help", "Re: Help"), ("Re: Help", "Re: Help"), ("RE[2]: x", "RE[2]: x"),
     ("AW: x", "AW: x"), ("", "Re:")],
)  # fmt: skip
def test_reply_subject(subject: str, expected: str) -> None:
    assert reply_subject(subject) == expected

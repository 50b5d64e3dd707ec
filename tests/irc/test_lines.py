"""Line parsing and formatting: the last guard of the wire."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from telephonist.interfaces.irc.lines import (
    MAX_LINE_BYTES,
    Source,
    UnsafeLine,
    format_line,
    parse_line,
    wire_length,
)

words = st.text(
    st.characters(blacklist_characters=" \r\n\0", blacklist_categories=("Cs",)), min_size=1
).filter(lambda w: not w.startswith(":"))
anything = st.text(st.characters(blacklist_categories=("Cs",)))


def test_parse_full_line() -> None:
    line = parse_line(
        r"@time=2024-01-01T00:00:00.000Z;msgid=abc;flag :nick!~id@host PRIVMSG #c :hi there"
    )
    assert line.command == "PRIVMSG"
    assert line.params == ("#c", "hi there")
    assert line.source == Source("nick", "~id", "host")
    assert line.tags == {"time": "2024-01-01T00:00:00.000Z", "msgid": "abc", "flag": ""}


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (r"a\:b", "a;b"),
        (r"a\sb", "a b"),
        (r"a\\b", "a\\b"),
        (r"a\r\nb", "a\r\nb"),
        (r"a\bc", "abc"),
        ("trailing\\", "trailing"),
    ],
)
def test_tag_unescaping(raw: str, value: str) -> None:
    assert parse_line(f"@k={raw} PING x").tags["k"] == value


def test_parse_variants() -> None:
    assert parse_line("PING :irc.example").params == ("irc.example",)
    assert parse_line("ping  a   b :c  d").params == ("a", "b", "c  d")
    assert parse_line(":srv 001 me :Welcome").source == Source("srv")
    assert parse_line("CMD a :").params == ("a", "")
    assert Source.parse("nick@host") == Source("nick", "", "host")
    assert Source("n", "u", "h").mask == "n!u@h"


def test_format_basic() -> None:
    assert format_line("PRIVMSG", "#c", "hello world") == "PRIVMSG #c :hello world"
    assert format_line("JOIN", "#c", "key", trailing=False) == "JOIN #c key"
    assert format_line("QUIT") == "QUIT"


@pytest.mark.parametrize(
    "params",
    [
        ("#c", "a\r\nQUIT :x"),
        ("#c", "a\rb"),
        ("#c", "a\nb"),
        ("#c", "a\0b"),
        ("#c d", "x"),
        (":#c", "x"),
        ("", "x"),
        ("#c\n", "x"),
    ],
)
def test_format_refuses_unsafe(params: tuple[str, str]) -> None:
    with pytest.raises(UnsafeLine):
        format_line("PRIVMSG", *params)


def test_format_refuses_long_and_bad_command() -> None:
    with pytest.raises(UnsafeLine):
        format_line("PRIVMSG", "#c", "x" * 600)
    with pytest.raises(UnsafeLine):
        format_line("PRIV MSG", "#c", "x")


@given(st.lists(words, max_size=5), anything)
def test_format_never_emits_a_second_line(middle: list[str], last: str) -> None:
    try:
        line = format_line("PRIVMSG", *middle, last)
    except UnsafeLine:
        return
    assert not set(line) & set("\r\n\0")
    assert wire_length(line) <= MAX_LINE_BYTES
    parsed = parse_line(line)
    assert parsed.command == "PRIVMSG"
    assert parsed.params == (*middle, last)

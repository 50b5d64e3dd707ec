"""Text safety and splitting: line breaks, controls, UTF-8 and the relayed 512 bytes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from telephonist.interfaces.irc.ctcp import Ctcp, answer, format_ctcp, parse_ctcp
from telephonist.interfaces.irc.text import (
    message_lines,
    plain_text,
    relay_budget,
    single_line,
    split_utf8,
    valid_word,
)

texts = st.text(st.characters(blacklist_categories=("Cs",)))


def rejoin(text: str, pieces: list[str]) -> bool:
    """Whether ``pieces`` are ``text`` in order, minus single spaces dropped at breaks
    (every way of placing those spaces is tried: runs of spaces are ambiguous)."""
    positions = {0}
    for piece in pieces:
        reached = set()
        for pos in positions:
            for start in (pos, pos + 1):
                if start > pos and text[pos : pos + 1] != " ":
                    continue  # only a space can have been dropped
                if text.startswith(piece, start):
                    reached.add(start + len(piece))
        positions = reached
    return any(text[pos:] in ("", " ") for pos in positions)


@given(texts, st.integers(min_value=4, max_value=600))
def test_split_keeps_everything_within_budget(text: str, budget: int) -> None:
    pieces = split_utf8(text, budget)
    assert rejoin(text, pieces)
    assert all(0 < len(p.encode()) <= budget for p in pieces)
    if len(text.encode()) <= budget:
        assert pieces == ([text] if text else [])


@given(st.text(st.sampled_from("aé€😀 "), min_size=1, max_size=400), st.integers(4, 40))
def test_split_never_breaks_a_multibyte_character(text: str, budget: int) -> None:
    # Every piece is a valid str (so valid UTF-8) and re-encodes to the same bytes.
    pieces = split_utf8(text, budget)
    assert rejoin(text, pieces)
    assert all(p.encode().decode() == p for p in pieces)


def test_split_prefers_word_boundaries() -> None:
    assert split_utf8("hello brave new world", 12) == ["hello brave", "new world"]
    assert split_utf8("hello brave", 5) == ["hello", "brave"]
    assert split_utf8("x" * 10, 4) == ["xxxx", "xxxx", "xx"]
    with pytest.raises(ValueError, match="budget"):
        split_utf8("x", 3)


@given(texts)
def test_message_lines_are_safe(text: str) -> None:
    for line in message_lines(text):
        assert line
        assert not set(line) & set("\r\n\0\x01")


def test_message_lines_split_at_breaks_and_strip_controls() -> None:
    assert message_lines("a\r\nb\rc\nd\n\n") == ["a", "b", "c", "d"]
    assert message_lines("\x01VERSION\x01 x\0y") == ["VERSION xy"]
    assert single_line("a\r\nb\nc\0") == "a b c"


@pytest.mark.parametrize(
    ("word", "ok"),
    [
        ("#chan", True),
        ("nick", True),
        ("a b", False),
        ("#a,#b", False),
        (":x", False),
        ("", False),
        ("x\r", False),
        ("x\n", False),
        ("x\0", False),
        (3, False),
        ("x" * 201, False),
    ],
)
def test_valid_word(word: object, ok: bool) -> None:
    assert valid_word(word) is ok


def test_relay_budget_counts_the_server_prefix() -> None:
    # ":nick!user@host PRIVMSG #room :" + text + CRLF == 512
    source = "nick!user@host"
    budget = relay_budget("PRIVMSG", "#room", len(source))
    relayed = f":{source} PRIVMSG #room :{'x' * budget}\r\n"
    assert len(relayed.encode()) == 512


def test_ctcp_parse_and_answer() -> None:
    assert parse_ctcp("\x01VERSION\x01") == Ctcp("VERSION", "")
    assert parse_ctcp("\x01ACTION waves") == Ctcp("ACTION", "waves")
    assert parse_ctcp("\x01ping 123\x01") == Ctcp("PING", "123")
    assert parse_ctcp("hello") is None
    assert parse_ctcp("\x01\x01") is None
    assert parse_ctcp("\x01A\x01B\x01") is None
    assert answer(Ctcp("VERSION", ""), "Bot 1", "now") == "\x01VERSION Bot 1\x01"
    assert answer(Ctcp("PING", "42"), "v", "now") == "\x01PING 42\x01"
    assert answer(Ctcp("TIME", ""), "v", "now") == "\x01TIME now\x01"
    assert answer(Ctcp("DCC", "SEND x"), "v", "now") is None
    assert format_ctcp("ping") == "\x01PING\x01"


@given(
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x01"), max_size=50)
)
def test_ctcp_round_trip(params: str) -> None:
    parsed = parse_ctcp(format_ctcp("PING", params))
    assert parsed == Ctcp("PING", params)


@given(
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E)),
    st.sampled_from(["\x00", "\x01", "\x02", "\x0f"]),
)
def test_printable_ascii_takes_the_short_way_to_the_same_result(text: str, code: str) -> None:
    """``plain_text`` and ``message_lines`` skip their work for printable ASCII; the full
    treatment (forced by a character it removes) gives the same."""
    assert plain_text(text) == plain_text(text + code) == text
    assert message_lines(text) == message_lines(text + "\x00") == ([text] if text else [])

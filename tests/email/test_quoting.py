"""Quoted-reply stripping: the author's own words, never invented text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from telephonist.interfaces.email import quoting
from telephonist.interfaces.email.quoting import strip_quoted_reply

line = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=40)
special = st.sampled_from([">", "> quoted", "-- ", "On Mon, 1 Jan, Ann wrote:", "Ann wrote:", ""])
body = st.lists(st.one_of(line, special), max_size=30).map("\n".join)


@given(body)
def test_idempotent(text: str) -> None:
    once = strip_quoted_reply(text)
    assert strip_quoted_reply(once) == once


@given(body)
def test_result_lines_come_from_the_input_in_order(text: str) -> None:
    source = [ln.rstrip() for ln in text.split("\n")]
    it = iter(source)
    for out_line in strip_quoted_reply(text).split("\n"):
        if out_line:
            assert any(out_line == src for src in it), out_line


@given(body)
def test_no_quoted_line_survives(text: str) -> None:
    assert not any(ln.lstrip().startswith(">") for ln in strip_quoted_reply(text).split("\n"))


new_line = st.text(
    st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters=">"),
    min_size=1,
    max_size=30,
).filter(lambda s: bool(s.strip()) and not s.rstrip().endswith(":"))


@given(st.lists(new_line, min_size=1, max_size=5), st.lists(line, max_size=5))
def test_top_posted_reply_keeps_exactly_the_new_text(new: list[str], old: list[str]) -> None:
    reply = "\n".join(s.strip() for s in new)
    quoted = "\n".join("> " + s for s in old)
    text = f"{reply}\n\nOn Tue, 2 Jan 2024 at 10:00, Ann <ann@example.com> wrote:\n{quoted}\n"
    assert strip_quoted_reply(text) == strip_quoted_reply(reply)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Thanks!\n\nOn Mon, 1 Jan 2024, Bob wrote:\n> question?\n", "Thanks!"),
        ("Merci\n\nLe lun. 1 janv. 2024, Bob a écrit :\n> q\n", "Merci"),
        ("Sure\n\nOn Mon, 1 Jan 2024 at 10:00, Bob Smith <\nbob@example.com> wrote:\n> q", "Sure"),
        ("Yes\n\n-----Original Message-----\nFrom: Bob\nSent: today\nq", "Yes"),
        ("Yes\n\nFrom: Bob <b@x>\nSent: Monday\nTo: me\nSubject: q\n\nold", "Yes"),
        ("Inline:\n> a\nanswer a\n> b\nanswer b\n", "Inline:\nanswer a\nanswer b"),
        ("Hello\n\n-- \nAnn\nACME Corp", "Hello"),
        ("Bob wrote:\n> q\nreply", "Bob wrote:\nreply"),  # not at the end: inline reply
        ("no quote at all\r\nsecond line", "no quote at all\nsecond line"),
        ("", ""),
    ],
)
def test_examples(text: str, expected: str) -> None:
    assert strip_quoted_reply(text) == expected


def test_prose_that_looks_like_an_attribution_is_kept() -> None:
    text = "On my way home, she wrote:\nthe plan is fine"
    assert strip_quoted_reply(text) == text


@given(body)
def test_the_no_marker_shortcut_changes_nothing(text: str) -> None:
    """Text without ``--``, ``__``, ``:`` or ``>`` skips the marker search; the full
    algorithm would cut nothing from it either."""
    marker_free = text.replace("-", "").replace("_", "").replace(":", "").replace(">", "")
    lines = marker_free.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    # What the shortcut skips would have removed nothing: no cut, no signature, no quote.
    assert quoting._cut_index(lines) == len(lines)
    assert quoting._SIGNATURE not in lines
    assert not any(quoting._is_quoted(x) for x in lines)

"""Our line parser against the ircdocs parser test vectors (PyPI ``irc-parser-tests``)."""

from __future__ import annotations

from typing import Any

import pytest
from parser_tests import data as vectors

from telephonist.interfaces.irc.lines import Source, parse_line

SPLIT: list[dict[str, Any]] = vectors.msg_split["tests"]
USERHOST: list[dict[str, Any]] = vectors.userhost_split["tests"]


@pytest.mark.parametrize("case", SPLIT, ids=[c["input"][:40] for c in SPLIT])
def test_msg_split(case: dict[str, Any]) -> None:
    atoms = case["atoms"]
    line = parse_line(case["input"])
    assert line.command == atoms["verb"].upper()
    assert list(line.params) == atoms.get("params", [])
    assert dict(line.tags) == {k: v or "" for k, v in (atoms.get("tags") or {}).items()}
    if atoms.get("source") is None:
        assert line.source is None
    else:
        assert line.source == Source.parse(atoms["source"])


@pytest.mark.parametrize("case", USERHOST, ids=[c["source"] for c in USERHOST])
def test_userhost_split(case: dict[str, Any]) -> None:
    atoms = case["atoms"]
    source = Source.parse(case["source"])
    assert source.nick == atoms.get("nick", "")
    assert source.ident == (atoms.get("user") or "")
    assert source.host == (atoms.get("host") or "")

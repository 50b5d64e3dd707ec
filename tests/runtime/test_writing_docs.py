"""docs/writing-an-interface.md: every code block is real. A block whose first line is
``# from <path>`` must still be in that file, verbatim (the files are the worked
examples' plugins, which the tests import and run); a ``# file:`` block is written into a
project and run by ``test_udpchat.py``; the one other block, a settings table, is
validated by the plugin's own model."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from telephonist.interfaces.plugins import configure, discover

ROOT = Path(__file__).resolve().parents[2]
WRITING = (ROOT / "docs" / "writing-an-interface.md").read_text()
BLOCKS = re.findall(r"```(python|toml)\n(.*?)```", WRITING, re.S)
EXCERPTS = [
    (first.removeprefix("# from "), rest)
    for _, block in BLOCKS
    for first, _, rest in [block.partition("\n")]
    if first.startswith("# from ")
]


def test_every_block_is_an_excerpt_a_project_file_or_a_settings_table() -> None:
    others = [block for _, block in BLOCKS if not block.startswith(("# from ", "# file: "))]
    assert len(EXCERPTS) >= 10
    assert others == ["[interfaces.linechat]\nport = 7000\nmax_connections = 500\n"]


@pytest.mark.parametrize(("path", "excerpt"), EXCERPTS, ids=[p for p, _ in EXCERPTS])
def test_an_excerpt_is_still_in_its_file(path: str, excerpt: str) -> None:
    assert excerpt in (ROOT / path).read_text(), f"docs/writing-an-interface.md: {path} changed"


def test_the_settings_example_is_valid_for_the_plugin() -> None:
    (table,) = [b for _, b in BLOCKS if b.startswith("[interfaces.linechat]")]
    options = tomllib.loads(table)["interfaces"]["linechat"]
    configured = configure(discover(["linechat"])["linechat"], options)
    assert configured.config.model_dump()["max_connections"] == 500


@pytest.mark.parametrize("question", [
    "`self.config`",
    "`telephonist.core.exceptions`",
    "it must be: `async def",
    "Do I call `close_reply_channel` after an `ABORT`? | yes",
    "What is a \"connection\" for a connectionless protocol?",
    "a `telephonist.chat` entry point",
])  # fmt: skip
def test_the_questions_plugin_authors_had_are_answered(question: str) -> None:
    assert question in WRITING

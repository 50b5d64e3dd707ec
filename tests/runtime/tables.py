"""Reading transition tables: from a state machine's docstring and from the docs, so a
test can check that the two agree and that every documented row is driven."""

from __future__ import annotations

import re
from types import ModuleType

__all__ = ["documented_rows", "markdown_table"]


def documented_rows(module: ModuleType) -> list[list[str]]:
    """``[state, event, next, actions]`` rows of the ``Transitions`` block of ``module``'s
    docstring; a line with only actions continues the row above."""
    doc = module.__doc__ or ""
    block = doc.split("Transitions")[1].split("::\n\n", 1)[1].split("\n\n", 1)[0]
    rows: list[list[str]] = []
    for line in block.splitlines()[1:]:  # the first line is the header
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) == 1:
            rows[-1][3] = f"{rows[-1][3]} {cells[0]}"
            continue
        rows.append([*cells, ""][:4])
    return rows


def markdown_table(doc: str, after: str) -> list[list[str]]:
    """The rows of the first Markdown table after the text ``after``."""
    text = doc.split(after, 1)[1]
    lines = [line for line in text.split("\n\n")[1].splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]

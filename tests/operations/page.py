"""docs/operations.md as the tests read it: ``<!-- file: NAME -->`` before a fenced block
is a file of the project; ``<!-- commands: NAME -->`` before a console block is what an
operator types (``$ command``; a trailing ``&`` starts it in the background).

``localize`` is every change a test makes to the page's text: free ports in place of
the page's fixed ones, the test's own IRC channel in place of ``#ops``.
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "operations.md"

_FILE = re.compile(r"<!-- file: (\S+) -->\n```\w*\n(.*?)```", re.S)
_COMMANDS = re.compile(r"<!-- commands: (\S+) -->\n```console\n(.*?)```", re.S)
_METRIC_ROW = re.compile(r"^\| `(telephonist_[a-z_]+)` \| (\w+) \|", re.M)


def files() -> dict[str, str]:
    return dict(_FILE.findall(PAGE.read_text()))


def commands(name: str) -> list[str]:
    blocks = dict(_COMMANDS.findall(PAGE.read_text()))
    assert name in blocks, f"no commands block {name!r} in docs/operations.md"
    return [line[2:] for line in blocks[name].splitlines() if line.startswith("$ ")]


def documented_metrics() -> dict[str, str]:
    """``{family name as the parser names it: type}`` from the metrics table."""
    found = {}
    for name, kind in _METRIC_ROW.findall(PAGE.read_text()):
        found[name.removesuffix("_total") if kind == "counter" else name] = kind
    assert len(found) > 10, "the metrics table was not found"
    return found


def localize(text: str, replacements: dict[str, str]) -> str:
    for old, new in replacements.items():
        text = re.sub(rf"(?<![\w#]){re.escape(old)}(?!\w)", new, text)
    return text


def argv(command: str) -> tuple[list[str], dict[str, str], bool]:
    """``(args, environment assignments, background)`` of one page command; the
    ``telephonist`` command is run with this interpreter (``-m telephonist.cli``)."""
    args = shlex.split(command)
    background = bool(args) and args[-1] == "&"
    if background:
        args.pop()
    env = {}
    while args and re.match(r"^[A-Z_][A-Z0-9_]*=", args[0]):
        key, _, value = args.pop(0).partition("=")
        env[key] = value
    if args[0] == "telephonist":
        args = [sys.executable, "-m", "telephonist.cli", *args[1:]]
    return args, env, background

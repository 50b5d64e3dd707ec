"""docs/consumers.md runs as written.

The Python blocks run in order in one namespace, like a session. A block whose first
line is ``# file: some/path.py`` is written to that path under a temporary directory on
``sys.path`` instead (so the docs can show a project's modules and import them by dotted
path). A block followed by a line ``prints`` and a plain fenced block must print exactly
that. Functions the docs define as ``test_*`` are then run, async ones on a fresh loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import io
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from telephonist.consumers import chat_protocols, register_chat_protocol, unregister_chat_protocol
from telephonist.routing.policies import unregister_protocol_policy

DOC = Path(__file__).resolve().parents[2] / "docs" / "consumers.md"
FENCE = re.compile(r"```(\w*)\n(.*?)```(?:\n\nprints\n\n```\n(.*?)```)?", re.DOTALL)


def blocks() -> list[tuple[str, str, str | None]]:
    """``(language, code, expected output)``; code is padded with blank lines so that
    tracebacks give the line numbers of the document."""
    text = DOC.read_text()
    found = []
    for m in FENCE.finditer(text):
        padding = "\n" * text.count("\n", 0, m.start(2))
        found.append((m[1], padding + m[2], m[3]))
    return found


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    # The docs register a "linechat" chat protocol; the installed plugin's (from its
    # entry point) comes back afterwards, for the tests that follow in this process.
    installed = [p for p in chat_protocols() if p.name == "linechat"]
    yield tmp_path
    for name in set(sys.modules) - before:
        if name == "chat" or name.startswith("chat."):
            del sys.modules[name]
    unregister_protocol_policy("linechat.*")
    unregister_chat_protocol("linechat")
    for protocol in installed:
        register_chat_protocol(protocol)


def test_docs_examples_run_as_written(sandbox: Path) -> None:
    namespace: dict[str, Any] = {"__name__": "consumers_md"}
    ran = 0
    for lang, body, expected in blocks():
        if lang != "python":
            continue
        first = body.lstrip("\n").splitlines()[0]
        if first.startswith("# file: "):
            target = sandbox / first.removeprefix("# file: ").strip()
            target.parent.mkdir(parents=True, exist_ok=True)
            (target.parent / "__init__.py").touch()
            target.write_text(body.lstrip("\n"))
            continue
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(body, str(DOC), "exec"), namespace)
        ran += 1
        if expected is not None:
            assert out.getvalue() == expected
    tests = [f for name, f in namespace.items() if name.startswith("test_") and callable(f)]
    assert ran >= 10
    assert len(tests) == 3
    for test in tests:
        if inspect.iscoroutinefunction(test):
            asyncio.run(test())
        else:
            test()

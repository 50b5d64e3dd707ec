"""The package's import graph: no cycles, and every arrow points down the layers.

Imports are read with ``ast`` from the source, all of them: module level, inside
functions, and under ``if TYPE_CHECKING:`` (a cycle mypy needs is still a cycle a reader
has to hold in their head). Importing ``a.b.c`` from outside ``a.b`` runs ``a/__init__``
and ``a/b/__init__`` first, so those count as edges too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import telephonist

ROOT = Path(telephonist.__file__).parent

#: Top to bottom. A module may import from its own top-level package and from any
#: package in a LOWER layer, never from the same layer or one above. ``(root)`` is
#: ``telephonist/__init__.py`` (only ``__version__``).
LAYERS: list[set[str]] = [
    # What people run, and the deprecated aliases of moved import paths.
    {"cli", "django", "host", "dispatch"},
    # Running processes (the run plan, signals, status); test tools (consumers, processes,
    # stand-ins).
    {"runtime", "testing"},
    # The two kinds of process.
    {"server", "worker"},
    # What both kinds of process do over their life (hooks, status membership).
    {"lifespan"},
    # Protocol plugins, consumers, routing; affinity's wire protocol and state machines.
    {"interfaces", "consumers", "routing", "affinity"},
    # The chat contract (typed events and replies, safe text) every chat-like
    # interface and consumer shares.
    {"chat"},
    # The channel layer; the message specs (TypedDicts and channel names).
    {"core", "spec"},
    # The configuration model (the core reads it to build the project's layer).
    {"config", "logging"},
    # What keeps secrets and channel names out of logs and errors (config errors too).
    {"redaction"},
    {"(root)"},
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> Iterator[str]:
    """Every telephonist module ``name`` imports (without the ancestor packages)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            for alias in node.names:
                # ``from pkg import mod`` imports the module ``pkg.mod``.
                sub = f"{target}.{alias.name}"
                yield sub if sub in known else target


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for target in _imports(name, path, known):
            if target not in known or target == name:
                continue
            graph[name].add(target)
            # Importing a.b.c from outside a.b runs a.b's __init__ (and a's) first.
            parts = target.split(".")
            for i in range(2, len(parts)):
                ancestor = ".".join(parts[:i])
                if not (name == ancestor or name.startswith(ancestor + ".")):
                    graph[name].add(ancestor)
    return graph


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "(root)"


def _layer(package: str) -> int:
    for i, members in enumerate(LAYERS):
        if package in members:
            return i
    raise AssertionError(f"package telephonist.{package} has no layer in LAYERS: add it")


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_every_package_has_a_layer() -> None:
    for module in _modules():
        _layer(_top(module))


def test_no_import_cycles() -> None:
    cycles = _cycles(_graph())
    assert cycles == [], "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_imports_point_down_the_layers() -> None:
    upward = []
    for module, targets in _graph().items():
        here = _top(module)
        for target in targets:
            there = _top(target)
            if there != here and _layer(there) <= _layer(here):
                upward.append(f"{module} -> {target}")
    assert upward == [], "imports against the layering:\n" + "\n".join(sorted(upward))


#: Modules that do I/O or keep time; the affinity state machines and the HTTP reply
#: machine take events and ``now`` instead (issue 10: sans-IO, h11 style).
_IO = {"asyncio", "socket", "selectors", "threading", "time", "logging", "concurrent", "twisted"}


#: State machines outside ``affinity`` held to the same rule.
_SANS_IO = {"telephonist.interfaces.http.reply"}


def test_the_affinity_state_machines_do_no_io() -> None:
    for name, path in _modules().items():
        if _top(name) != "affinity" and name not in _SANS_IO:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                imported = [node.module or ""]
            else:
                continue
            for module in imported:
                assert module.split(".")[0] not in _IO, f"{name} imports {module}"


def test_the_checker_sees_cycles_and_upward_imports(tmp_path: Path) -> None:
    """The helpers above find what they must (a checker that finds nothing proves
    nothing): a cycle through TYPE_CHECKING and an import one layer up."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    source = tmp_path / "mod.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from telephonist.runtime import plan\n"
        "def f():\n"
        "    from ..cli import main\n"
    )
    known = {"telephonist.runtime.plan", "telephonist.cli"}
    found = set(_imports("telephonist.worker.mod", source, known))
    assert {"telephonist.runtime.plan", "telephonist.cli"} <= found
    assert _layer("cli") < _layer("runtime") < _layer("worker") < _layer("core")

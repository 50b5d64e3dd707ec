"""The test plugins (``tests/plugins/*``), loadable by the tests and by nothing else.

Each test plugin is a real distribution with entry points, packaged as a third party
would ship one. Installing them into the project's environment would show them to every
``make run`` (issue: a first run listed ``linechat``). Instead the tests give them their
own way in: the plugin's source directory goes on ``sys.path`` (so edits are live) and a
``.dist-info`` directory written from its ``pyproject.toml`` (the standard format
``importlib.metadata`` reads entry points from) goes into a directory of the session's.
Both are put on ``PYTHONPATH`` too, so the ``telephonist`` processes the tests start find
the plugins exactly as an installed distribution is found.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import sys
import tempfile
import tomllib
from pathlib import Path

__all__ = ["PLUGINS", "install_for_tests"]

PLUGINS = Path(__file__).resolve().parent / "plugins"


def _dist_info(project: dict[str, object], target: Path) -> None:
    meta = project["project"]
    assert isinstance(meta, dict)
    name, version = str(meta["name"]), str(meta["version"])
    folder = target / f"{re.sub(r'[-_.]+', '_', name).lower()}-{version}.dist-info"
    folder.mkdir()
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"Requires-Dist: {d}" for d in meta.get("dependencies", [])]
    (folder / "METADATA").write_text("\n".join(lines) + "\n", encoding="utf-8")
    groups = meta.get("entry-points", {})
    assert isinstance(groups, dict)
    text = "".join(
        f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in points.items()) + "\n"
        for group, points in groups.items()
    )
    (folder / "entry_points.txt").write_text(text, encoding="utf-8")


def install_for_tests() -> list[Path]:
    """Make every test plugin importable and discoverable in this process and its
    children; returns the directories added. Idempotent."""
    if os.environ.get("TESTS_PLUGIN_PATH"):
        added = [Path(p) for p in os.environ["TESTS_PLUGIN_PATH"].split(os.pathsep)]
    else:
        metadata = Path(tempfile.mkdtemp(prefix="telephonist-test-plugins-"))
        atexit.register(shutil.rmtree, metadata, ignore_errors=True)
        added = [metadata]
        for pyproject in sorted(PLUGINS.glob("*/pyproject.toml")):
            _dist_info(tomllib.loads(pyproject.read_text(encoding="utf-8")), metadata)
            added.append(pyproject.parent)
        os.environ["TESTS_PLUGIN_PATH"] = os.pathsep.join(map(str, added))
    for path in reversed(added):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    current = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    missing = [str(p) for p in added if str(p) not in current]
    os.environ["PYTHONPATH"] = os.pathsep.join([*missing, *filter(None, current)])
    return added

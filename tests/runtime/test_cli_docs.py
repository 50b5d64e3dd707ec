"""docs/runtime.md and docs/writing-an-interface.md: their files and commands work as
written, and the settings table lists every setting of the model."""

from __future__ import annotations

import re
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

from telephonist.config import TelephonistConfig
from tests.servers import RedisServer

from .conftest import TIMEOUT, Project, Spawn, run_cli

DOCS = Path(__file__).resolve().parents[2] / "docs"
RUNTIME = (DOCS / "runtime.md").read_text()
WRITING = (DOCS / "writing-an-interface.md").read_text()


def _blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, re.S)


def _file_block(name: str) -> str:
    for block in _blocks(RUNTIME, "python") + _blocks(RUNTIME, "toml"):
        if block.startswith(f"# file: {name}\n"):
            return block
    raise AssertionError(f"docs/runtime.md has no block '# file: {name}'")


def _console(text: str, after: str) -> list[str]:
    """The ``$ ...`` lines and the output lines of the first console block after ``after``."""
    start = text.index(after)
    return _blocks(text[start:], "console")[0].splitlines()


@pytest.fixture
def doc_project(project: Project) -> Project:
    project.write("chat.py", _file_block("chat.py"))
    project.write("telephonist.toml", _file_block("telephonist.toml"))
    return project


def _client(port: int) -> list[str]:
    command, *expected = _console(RUNTIME, "and talk to it from another terminal")
    code = command.removeprefix("$ python -c ").strip()[1:-1].replace("7000", str(port))
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT, check=True
    )
    assert done.stdout.splitlines() == expected
    return expected


def test_the_first_run_works_as_written(doc_project: Project, spawn: Spawn) -> None:
    command, *_ = _console(RUNTIME, "Start everything in one process")
    assert command == "$ telephonist run"
    # Port 7000 may be taken on a test machine: the environment picks a free one, the
    # command line stays as written.
    proc = spawn("run", env={"TELEPHONIST_INTERFACES__LINECHAT__PORT": "0"}).ready()
    # What it prints, as shown (the port and the worker's name are this run's; the
    # tests' own plugins are installed here besides linechat, and said disabled too).
    shown = _console(RUNTIME, "Start everything in one process")[1:]
    printed = [
        line.replace(f":{proc.endpoint()}", ":7000") for line in proc.seen if "udpchat" not in line
    ]
    assert [re.sub(r"^worker \S+:", "worker:", line) for line in printed] == [
        re.sub(r"^worker \S+:", "worker:", line) for line in shown
    ]
    _client(proc.endpoint())
    proc.signal(signal.SIGTERM)
    assert proc.wait() == 0


@pytest.mark.redis
def test_the_split_deployment_works_as_written(
    doc_project: Project, spawn: Spawn, redis_server: RedisServer
) -> None:
    section = RUNTIME[RUNTIME.index("### A split deployment") :]
    toml = _blocks(section, "toml")[0].replace("redis://127.0.0.1:6379", redis_server.url)
    doc_project.write("telephonist.toml", toml.replace("port = 7000", "port = 0"))
    commands = [
        line.removeprefix("$ ").removesuffix(" &") for line in _console(section, "```console")
    ]
    assert commands == ["telephonist serve", "telephonist worker", "telephonist worker"]
    env = {"TELEPHONIST_LAYER__CONFIG__PREFIX": f'"docs{secrets.token_hex(4)}"'}
    server, *_ = [spawn(*c.split()[1:], env=env).ready() for c in commands]
    _client(server.endpoint())


def test_the_configuration_error_example_is_what_the_command_prints(doc_project: Project) -> None:
    command, *expected = _console(RUNTIME, "Every error names the key and the value")
    args = command.removeprefix("$ telephonist ").split()
    done = run_cli(doc_project, *args)
    assert done.returncode == 2
    assert done.stderr.splitlines() == expected


def _keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    keys = set()
    for name, info in model.model_fields.items():
        if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
            keys |= _keys(info.annotation, f"{prefix}{name}.")
        else:
            keys.add(prefix + name)
    return keys


def test_the_settings_table_lists_every_setting() -> None:
    table = RUNTIME[RUNTIME.index("### Every setting") : RUNTIME.index("### Lifespan hooks")]
    documented = set(re.findall(r"^\| `([^`]+)` \|", table, re.M))
    assert documented - {"interfaces.<name>"} == _keys(TelephonistConfig) - {"interfaces"}


def test_the_plugin_guide_shows_what_interfaces_prints(project: Project) -> None:
    # The guide runs it right after installing, before any configuration exists.
    (project.path / "telephonist.toml").unlink()
    shown = _console(WRITING, "Install it next to Telephonist")
    printed = run_cli(project, "interfaces").stdout.splitlines()
    start = printed.index(shown[2])
    for line in shown[2:]:
        if line.strip() == "...":
            break
        assert printed[start] == line
        start += 1

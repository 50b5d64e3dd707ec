"""docs/django.md: the quick start works as written, in a fresh Django project."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import urllib.request
from pathlib import Path

from telephonist.testing.processes import free_port

from .processes import TIMEOUT, Proc

DOC = (Path(__file__).resolve().parents[2] / "docs" / "django.md").read_text()
BIN = Path(sys.executable).parent


def _commands(after: str) -> list[str]:
    """The lines of the first console block after the text ``after``."""
    return _blocks_in(DOC[DOC.index(after) :], "console")[0].splitlines()


def _blocks_in(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, re.S)


def _run(command: str, cwd: Path) -> str:
    args = shlex.split(command.removeprefix("$ "))
    if args[0] == "python":
        args[0] = sys.executable
    elif args[0] == "django-admin":
        args[0] = str(BIN / "django-admin")
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _apply(section: str, project: Path) -> None:
    """Write the section's ``# file:`` blocks and append its ``# append to:`` blocks."""
    for block in _blocks_in(section, "python"):
        first, _, body = block.partition("\n")
        if first.startswith("# append to: "):
            with (project / first.removeprefix("# append to: ")).open("a") as fh:
                fh.write("\n" + body)
        elif first.startswith("# file: "):
            (project / first.removeprefix("# file: ")).write_text(block)


def _start_project(project: Path) -> None:
    intro = DOC[DOC.index("## Quick start") : DOC.index("## Settings")]
    startproject = re.search(r"`(django-admin startproject mysite \.)`", intro)
    assert startproject is not None
    _run(startproject.group(1), project)
    _apply(intro, project)


def test_the_testing_section_works_as_written(tmp_path: Path) -> None:
    _start_project(tmp_path)
    testing = DOC[DOC.index("## Testing") : DOC.index("## Moving a Channels project")]
    _apply(testing, tmp_path)
    (command,) = _commands("a file:")  # the block after the test file
    assert command.startswith("$ python -m pytest")
    output = _run(command + " -p no:cacheprovider", tmp_path)
    assert "2 passed" in output, output


def test_the_quick_start_works_as_written(tmp_path: Path) -> None:
    _start_project(tmp_path)

    migrate, runserver = _commands("Start the server as usual")
    _run(migrate, tmp_path)
    assert runserver == "$ python manage.py runserver"
    port = free_port()  # 8000 may be taken here: the address argument, as Django's
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    proc = Proc(
        [sys.executable, *shlex.split(runserver.removeprefix("$ python ")), f"127.0.0.1:{port}"],
        log=tmp_path / "runserver.log",
        cwd=tmp_path,
        env={**env, "PYTHONUNBUFFERED": "1"},
        new_session=True,
    )
    try:
        assert proc.endpoint("http") == f"http://127.0.0.1:{port}"
        proc.wait_for(r"^telephonist: ready$")
        client, expected = _commands("from another terminal")
        output = _run(client.replace("127.0.0.1:8000", f"127.0.0.1:{port}"), tmp_path)
        assert output.splitlines() == [expected]
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/admin/login/", timeout=TIMEOUT
        ) as page:
            assert page.status == 200
            assert b"Django administration" in page.read()
        assert _run("python manage.py check", tmp_path).startswith("System check identified")
    finally:
        proc.kill()

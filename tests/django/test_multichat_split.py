"""The multichat example split as docs/django.md shows it: ``manage.py runinterfaces``
and ``manage.py runworker`` over Redis, no ``runserver``. In development (the example's
DEBUG) the page's JavaScript and CSS come from the worker, as with ``runserver``, so two
headless Chromium sessions join a room and talk.

Real processes, a real Redis, real browsers; every wait is bounded.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from telephonist.testing.processes import Process, free_port
from tests.django import chatpage
from tests.django.multichat import EXAMPLE, migrate
from tests.servers import RedisServer

pytestmark = [pytest.mark.redis]
WAIT = 60.0


class Site:
    """What ``chatpage.open_room`` needs of a server: where its pages are."""

    def __init__(self, http_url: str) -> None:
        self.http_url = http_url


def _env(redis_server: RedisServer, tmp_path: Path, port: int) -> dict[str, str]:
    """The example's settings, over Redis, HTTP on ``port``, mail on any port."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "multichat.settings",
        "MULTICHAT_DB": str(tmp_path / "db.sqlite3"),
        "PYTHONUNBUFFERED": "1",
        "TELEPHONIST_LAYER__BACKEND": "redis",
        "TELEPHONIST_LAYER__CONFIG__HOSTS": json.dumps([redis_server.url]),
        "TELEPHONIST_LAYER__CONFIG__PREFIX": f"multichat-split-{tmp_path.name}",
        "TELEPHONIST_INTERFACES__HTTP__ENDPOINTS": json.dumps(
            [f"tcp:port={port}:interface=127.0.0.1"]
        ),
        "TELEPHONIST_INTERFACES__EMAIL__PORT": "0",
    }


@contextlib.contextmanager
def _split(env: dict[str, str], tmp_path: Path, *worker_args: str) -> Iterator[list[Process]]:
    """``runinterfaces`` and ``runworker`` (with ``worker_args``), each ready."""
    migrate({k: env[k] for k in ("DJANGO_SETTINGS_MODULE", "MULTICHAT_DB")})
    started: list[Process] = []
    try:
        for command in (["runinterfaces"], ["runworker", *worker_args]):
            proc = Process(
                [sys.executable, "manage.py", *command],
                log=tmp_path / f"{command[0]}.log", cwd=EXAMPLE, env=env,
            )  # fmt: skip
            started.append(proc)
            proc.wait_for_line(r"^telephonist: ready$", timeout=WAIT)
        yield started
    finally:
        for proc in started:
            proc.stop()


def test_split_example_serves_its_static_files_and_chats(
    redis_server: RedisServer, tmp_path: Path, browser: Callable[..., Any]
) -> None:
    port = free_port()
    with _split(_env(redis_server, tmp_path, port), tmp_path) as processes:
        server = Site(f"http://127.0.0.1:{port}")
        with urllib.request.urlopen(server.http_url + "/chat/lobby/", timeout=WAIT) as page:
            script = _script_url(page.read().decode())
        with urllib.request.urlopen(server.http_url + script, timeout=WAIT) as served:
            assert served.headers["content-type"] == "text/javascript"
        # The page works: its script runs, joins the room over a WebSocket, talks.
        ann, bob = browser(), browser()
        chatpage.open_room(ann, server, "lobby", "ann")
        chatpage.open_room(bob, server, "lobby", "bob")
        chatpage.say(ann, "split and served")
        chatpage.wait_for_message(bob, "split and served", user="ann", own=False)
        for proc in processes:
            assert "Traceback" not in proc.output(), proc.output()


def test_runworker_nostatic_leaves_static_files_to_the_web_server(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """``--nostatic`` (production: a web server serves ``collectstatic``'s files)."""
    port = free_port()
    with _split(_env(redis_server, tmp_path, port), tmp_path, "--nostatic"):
        url = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(url + "/chat/lobby/", timeout=WAIT) as page:
            script = _script_url(page.read().decode())
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url + script, timeout=WAIT)
        assert refused.value.code == 404  # left to Django's URLconf, which has no such path


def _script_url(html: str) -> str:
    start = html.index('src="/static/') + len('src="')
    return html[start : html.index('"', start)]

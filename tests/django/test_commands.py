"""runserver, runworker and runinterfaces as a Django developer runs them: real processes
(``python -m django ...`` with the test settings), real sockets.

Every wait is bounded and waits on a line the process prints or a socket answer. Every
process is started in its own session and its process group (the group of the PID we
started: the reloader's parent and child) is killed in teardown
(``telephonist.testing.processes``).
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

from telephonist.testing.processes import free_port
from tests.django.wsclient import talk
from tests.servers import RedisServer

from .processes import TIMEOUT, Proc

ROOT = Path(__file__).resolve().parents[2]


Manage = Callable[..., Proc]


@pytest.fixture
def manage(tmp_path: Path) -> Iterator[Manage]:
    started: list[Proc] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Proc:
        proc = Proc(
            [sys.executable, "-m", "django", *args],
            log=tmp_path / f"manage-{len(started)}.log",
            cwd=ROOT,
            env={
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "tests.django.settings",
                "PYTHONUNBUFFERED": "1",
                **(env or {}),
            },
            new_session=True,  # its own process group: reloader parent and child
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.kill()


def test_runserver_serves_every_interface_with_a_worker_and_stops_gracefully(
    manage: Manage,
) -> None:
    port = free_port()
    proc = manage("runserver", f"127.0.0.1:{port}", "--noreload", "--insecure")
    assert proc.wait_for(r"^System check identified no issues")
    assert proc.wait_for(r"^Django version .*, using settings 'tests.django.settings'$")
    assert proc.endpoint("http") == f"http://127.0.0.1:{port}"
    assert proc.wait_for(r"^interface email: disabled: not configured \(no \[interfaces\.email")
    proc.wait_for(r"^telephonist: ready$")

    assert talk(f"ws://127.0.0.1:{port}/echo/", "a", "b") == ["echo a", "echo b"]
    url = f"http://127.0.0.1:{port}/static/testapp/site.css"
    with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
        assert response.status == 200
        assert response.headers["content-type"] == "text/css"
        assert response.read() == b"body { color: teal; }\n"

    assert proc.stop() == 0
    proc.wait_for(r"^telephonist: stopped$")


def test_runserver_reports_a_port_in_use(manage: Manage) -> None:
    port = free_port()
    first = manage("runserver", f"127.0.0.1:{port}", "--noreload")
    first.wait_for(r"^telephonist: ready$")
    second = manage("runserver", f"127.0.0.1:{port}", "--noreload")
    second.wait_for(r"Address already in use|already in use")
    assert second.wait(TIMEOUT) != 0


def test_runserver_reloads_when_code_changes(manage: Manage, tmp_path: Path) -> None:
    module = tmp_path / "reloadme.py"
    module.write_text("VERSION = 1\n")
    (tmp_path / "reload_settings.py").write_text(
        "from tests.django.settings import *  # noqa: F403\n"
        "import reloadme  # noqa: F401\n"
        "DEBUG = True  # Django logs the reloader's lines in DEBUG only\n"
    )
    env = {
        "DJANGO_SETTINGS_MODULE": "reload_settings",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
    }
    proc = manage("runserver", f"127.0.0.1:{free_port()}", env=env)
    proc.wait_for(r"^Watching for file changes with ")
    proc.wait_for(r"^telephonist: ready$")
    module.write_text("VERSION = 2\n")
    later = time.time() + 5  # a newer mtime whatever the file system's resolution
    os.utime(module, (later, later))
    proc.wait_for(r"reloadme\.py changed, reloading")
    proc.wait_for(r"^telephonist: ready$")  # the new process serves again


def test_split_runinterfaces_and_runworker_over_redis(
    manage: Manage, redis_server: RedisServer
) -> None:
    env = {
        "TELEPHONIST_LAYER__BACKEND": "redis",
        "TELEPHONIST_LAYER__CONFIG__HOSTS": json.dumps([redis_server.url]),
        "TELEPHONIST_LAYER__CONFIG__PREFIX": f"django-split-{os.getpid()}",
    }
    interfaces = manage("runinterfaces", env=env)
    url = interfaces.endpoint("http")
    interfaces.wait_for(r"^telephonist: ready$")
    worker = manage("runworker", "--only", "websocket.*", env=env)
    found = worker.wait_for(r"^worker (\S+): (.*)$")
    assert found.group(2) == "websocket.connect, websocket.disconnect, websocket.receive"
    worker.wait_for(r"^telephonist: ready$")
    assert talk("ws" + url[len("http") :] + "/echo/", "over redis") == ["echo over redis"]
    assert worker.stop() == 0
    assert interfaces.stop() == 0


def _pushed(room: ClientConnection) -> str:
    return str(room.recv(timeout=TIMEOUT))


def test_views_commands_and_shells_push_to_the_rooms_the_workers_serve(
    manage: Manage, redis_server: RedisServer, tmp_path: Path
) -> None:
    """``get_channel_layer()`` is the project's layer everywhere (issue: it used to build
    a fresh in-memory one, and the push was silently lost). The layer is in Channels'
    ``CHANNEL_LAYERS`` only, which nothing but Django's settings can tell."""
    layers = {
        "default": {
            "BACKEND": "telephonist.core.redis.RedisChannelLayer",
            "CONFIG": {"hosts": [redis_server.url], "prefix": f"django-push-{os.getpid()}"},
        }
    }
    (tmp_path / "redis_settings.py").write_text(
        f"from tests.django.settings import *  # noqa: F403\nCHANNEL_LAYERS = {layers!r}\n"
    )
    env = {
        "DJANGO_SETTINGS_MODULE": "redis_settings",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
    }
    interfaces = manage("runinterfaces", env=env)
    url = interfaces.endpoint("http")
    interfaces.wait_for(r"^telephonist: ready$")
    worker = manage("runworker", env=env)
    worker.wait_for(r"^telephonist: ready$")
    with ws_connect("ws" + url[len("http") :] + "/room/lobby/", open_timeout=TIMEOUT) as room:
        # A view, run by the worker: the worker's own layer.
        with urllib.request.urlopen(f"{url}/push/lobby/?text=from+a+view", timeout=TIMEOUT) as r:
            assert r.read() == b"pushed to lobby"
        assert _pushed(room) == "from a view"
        # A management command and a shell: built once from Django's settings.
        command = manage("push_to_room", "lobby", "from a command", env=env)
        assert command.popen.wait(TIMEOUT) == 0
        assert _pushed(room) == "from a command"
        code = (
            "from telephonist.core.layers import get_channel_layer\n"
            "from telephonist.core.sync import sync_layer\n"
            "layer = get_channel_layer()\n"
            "assert layer is get_channel_layer()\n"
            "sync_layer(layer).group_send('chat.lobby', {'text': 'from a shell'})\n"
        )
        shell = manage("shell", "-c", code, env=env)
        assert shell.popen.wait(TIMEOUT) == 0, "\n".join(iter(shell.lines.get, None))
        assert _pushed(room) == "from a shell"
    assert worker.stop() == 0
    assert interfaces.stop() == 0


def test_a_view_pushes_on_the_in_memory_layer_of_runserver(manage: Manage) -> None:
    port = free_port()
    proc = manage("runserver", f"127.0.0.1:{port}", "--noreload")
    proc.wait_for(r"^telephonist: ready$")
    with ws_connect(f"ws://127.0.0.1:{port}/room/lobby/", open_timeout=TIMEOUT) as room:
        push = f"http://127.0.0.1:{port}/push/lobby/?text=hello+room"
        with urllib.request.urlopen(push, timeout=TIMEOUT) as response:
            assert response.read() == b"pushed to lobby"
        assert _pushed(room) == "hello room"
    assert proc.stop() == 0


def test_help_of_the_commands(manage: Manage) -> None:
    for command, options in {
        "runserver": ["--noreload", "--nostatic", "--insecure", "--set", "addrport"],
        "runworker": ["--only", "--exclude", "--set", "--config"],
        "runinterfaces": ["--interface", "--set", "--config"],
    }.items():
        proc = manage(command, "--help")
        assert proc.wait(TIMEOUT) == 0
        out = proc.output()
        for option in options:
            assert option in out, (command, option)


def test_bad_settings_stop_the_commands_with_the_key_to_change(manage: Manage) -> None:
    env = {"TELEPHONIST_INTERFACES__HTTP__MAX_CONNECTIONS": "lots"}
    proc = manage("runworker", env=env)
    proc.wait_for(
        r"telephonist\.E002\) TELEPHONIST\['interfaces'\]\['http'\]\['max_connections'\]: "
        r"Input should be a valid integer \(got 'lots'\)"
    )
    assert proc.wait(TIMEOUT) == 1

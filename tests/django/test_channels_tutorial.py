"""A Channels 4 project runs on Telephonist with one line added to INSTALLED_APPS.

``tests/channels_tutorial`` is the Channels 4 tutorial's chat project as its tutorial
writes it (``ChatConsumer(AsyncWebsocketConsumer)``, ``URLRouter`` with ``re_path(...
ChatConsumer.as_asgi())``, ``ProtocolTypeRouter`` +
``AllowedHostsOriginValidator(AuthMiddlewareStack(...))``, ``channels_redis`` in
``CHANNEL_LAYERS``, ``'daphne'`` in ``INSTALLED_APPS``), plus what the tests read: a
view and a management command that say something in a room, and a consumer that answers
with what it knows of its connection. ``channels_original/settings.py`` is the Channels
project's settings; ``mysite/settings.py`` adds ``"telephonist.django"``.

The same scenario runs under ``runserver``, under ``runinterfaces`` + two ``runworker``
over a real Redis (the commands of docs/django.md, "Moving a Channels project"), and
under Daphne with Telephonist's Redis layer (the Channels project's own settings,
``CHANNEL_LAYERS`` pointed at our backend): two headless Chromium browsers chat in
``room.html``; a view and a management command push to the room; a logged-in user's
WebSocket sees its user and session in ``scope``; a foreign ``Origin`` is refused by the
project's ``AllowedHostsOriginValidator`` (under Telephonist with the interface's own
origin check opened, so the refusal is the application's). The project's
``WebsocketCommunicator`` tests pass with both settings.

Every wait is bounded and waits on something observable.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from telephonist.testing.processes import free_port, wait_for_port
from tests.servers import RedisServer

from .processes import Proc

pytestmark = [pytest.mark.redis, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
TUTORIAL = ROOT / "tests" / "channels_tutorial"
TIMEOUT = 30.0
PASSWORD = "a-long-test-password-1"


GUIDE = (ROOT / "docs" / "django.md").read_text().split("## Moving a Channels project")[1]
GUIDE = GUIDE.split("\n## ")[0]


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", GUIDE, re.S)


def test_settings_differ_from_the_channels_project_by_one_line() -> None:
    original = (TUTORIAL / "channels_original" / "settings.py").read_text().splitlines()
    ours = (TUTORIAL / "mysite" / "settings.py").read_text().splitlines()
    changes = [
        line
        for line in difflib.unified_diff(original, ours, lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert changes == ['+    "telephonist.django",']
    # The guide's diff is this one, in its context.
    (shown,) = _blocks("diff")
    before = [line[1:] for line in shown.splitlines() if not line.startswith("+")]
    after = [line[1:] for line in shown.splitlines() if not line.startswith("-")]
    at = original.index(before[0])
    assert original[at : at + len(before)] == before
    assert ours[at : at + len(after)] == after


def _guide_commands(index: int) -> list[list[str]]:
    """The guide's console block ``index``: each ``python manage.py`` command's args."""
    lines = _blocks("console")[index].splitlines()
    commands = [shlex.split(line.removeprefix("$ ").removesuffix(" &")) for line in lines]
    return [c[2:] for c in commands if c[:2] == ["python", "manage.py"]]


# -- running the project ---------------------------------------------------------------


@dataclass
class Site:
    """The project copied to a temporary directory, and how to run its commands."""

    root: Path
    env: dict[str, str]
    url: str = ""
    procs: list[Proc] = field(default_factory=list)
    workers: list[str] = field(default_factory=list)  # their processes' channel prefixes

    def start(self, *args: str, name: str) -> Proc:
        proc = Proc(
            list(args),
            log=self.root.parent / f"{name}-{len(self.procs)}.log",
            cwd=self.root,
            env=self.env,
            new_session=True,
        )
        self.procs.append(proc)
        return proc

    def manage(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=self.root, env=self.env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    def stop(self) -> None:
        for proc in self.procs:
            proc.kill()


def _copy_project(tmp_path: Path, *, channels_settings: bool) -> Path:
    root = tmp_path / "project"
    shutil.copytree(
        TUTORIAL, root, ignore=shutil.ignore_patterns("channels_original", "__pycache__")
    )
    if channels_settings:
        shutil.copy(TUTORIAL / "channels_original" / "settings.py", root / "mysite" / "settings.py")
    return root


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEPHONIST_", "DJANGO_"))}
    return {**env, "PYTHONUNBUFFERED": "1", "DJANGO_SETTINGS_MODULE": "mysite.settings", **extra}


def _telephonist_site(tmp_path: Path, redis: RedisServer) -> Site:
    root = _copy_project(tmp_path, channels_settings=False)
    env = _env(
        # Where the private Redis is (the tutorial's settings say 127.0.0.1:6379), as
        # a deployment overrides one key; and the interface's own Origin check opened,
        # so that a refused foreign Origin is the project's validator's doing.
        TELEPHONIST_LAYER__CONFIG__HOSTS=json.dumps([redis.url]),
        TELEPHONIST_LAYER__CONFIG__PREFIX=f"tutorial-{uuid.uuid4().hex[:8]}",
        TELEPHONIST_INTERFACES__HTTP__WEBSOCKET__ALLOWED_ORIGINS='["*"]',
    )
    return Site(root, env)


def _daphne_site(tmp_path: Path, redis: RedisServer) -> Site:
    """The Channels project as it is, its layer switched to Telephonist's backend."""
    root = _copy_project(tmp_path, channels_settings=True)
    layers = {
        "default": {
            "BACKEND": "telephonist.core.redis.RedisChannelLayer",
            "CONFIG": {"hosts": [redis.url], "prefix": f"tutorial-{uuid.uuid4().hex[:8]}"},
        }
    }
    (root / "daphne_settings.py").write_text(
        f"from mysite.settings import *  # noqa: F403\nCHANNEL_LAYERS = {layers!r}\n"
    )
    return Site(root, _env(DJANGO_SETTINGS_MODULE="daphne_settings"))


def _prepare(site: Site) -> None:
    for args in (
        ("migrate", "--noinput", "-v", "0"),
        ("shell", "-c", f"from django.contrib.auth.models import User; "
         f"User.objects.create_user('alice', password={PASSWORD!r}, is_staff=True)"),
    ):  # fmt: skip
        done = site.manage(*args)
        assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture
def runserver(tmp_path: Path, redis_server: RedisServer) -> Iterator[Site]:
    site = _telephonist_site(tmp_path, redis_server)
    _prepare(site)
    port = free_port()
    (runserver,) = _guide_commands(0)  # as the guide has it, on a free port
    proc = site.start(
        sys.executable, "manage.py", *runserver, f"127.0.0.1:{port}", "--noreload",
        name="runserver",
    )  # fmt: skip
    try:
        site.url = proc.endpoint("http")
        proc.wait_for(r"^telephonist: ready$")
        yield site
    finally:
        site.stop()


@pytest.fixture
def split(tmp_path: Path, redis_server: RedisServer) -> Iterator[Site]:
    site = _telephonist_site(tmp_path, redis_server)
    _prepare(site)
    endpoint = f'["tcp:port={free_port()}:interface=127.0.0.1"]'
    # The guide's commands as written (its export is the private Redis here, set in
    # the environment above); the interface server on a free port.
    interfaces_args, *workers = _guide_commands(1)
    assert interfaces_args == ["runinterfaces"]
    assert [w[0] for w in workers] == ["runworker", "runworker"]
    try:
        interfaces = site.start(
            sys.executable, "manage.py", *interfaces_args, "--set",
            f"interfaces.http.endpoints={endpoint}", name="runinterfaces",
        )  # fmt: skip
        site.url = interfaces.endpoint("http")
        interfaces.wait_for(r"^telephonist: ready$")
        for args in workers:  # WebSockets on one worker, views on the other
            worker = site.start(sys.executable, "manage.py", *args, name="runworker")
            site.workers.append(worker.wait_for(r"^worker worker\.\w+\.(\w+)!:").group(1))
            worker.wait_for(r"^telephonist: ready$")
        yield site
    finally:
        site.stop()


@pytest.fixture
def daphne(tmp_path: Path, redis_server: RedisServer) -> Iterator[Site]:
    site = _daphne_site(tmp_path, redis_server)
    _prepare(site)
    port = free_port()
    proc = site.start(
        sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
        "mysite.asgi:application", name="daphne",
    )  # fmt: skip
    try:
        wait_for_port(port, proc, timeout=TIMEOUT)
        site.url = f"http://127.0.0.1:{port}"
        yield site
    finally:
        site.stop()


# -- the scenario ----------------------------------------------------------------------


def _ws(site: Site, path: str) -> str:
    return "ws" + site.url[len("http") :] + path


def _log_in(site: Site) -> str:
    """Log alice in through the admin's login form; returns her session key."""
    with httpx.Client(base_url=site.url, timeout=TIMEOUT) as client:
        page = client.get("/admin/login/")
        found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert found, page.text[:500]
        answer = client.post(
            "/admin/login/?next=/admin/",
            data={"csrfmiddlewaretoken": found.group(1), "username": "alice",
                  "password": PASSWORD, "next": "/admin/"},
        )  # fmt: skip
        assert answer.status_code == 302, answer.text[:500]
        return str(client.cookies["sessionid"])


def check_scope(site: Site) -> dict[str, Any]:
    session = _log_in(site)
    origin = site.url
    headers = {"Cookie": f"sessionid={session}"}
    with ws_connect(
        _ws(site, "/ws/whoami/"), origin=origin, additional_headers=headers, open_timeout=TIMEOUT
    ) as ws:
        seen = []
        for _ in range(2):
            ws.send("{}")
            seen.append(json.loads(ws.recv(timeout=TIMEOUT)))
    assert [s["messages"] for s in seen] == [1, 2]  # one instance for the connection
    assert seen[0]["user"] == "alice"
    assert seen[0]["session_key"] == session
    assert seen[0]["path"] == "/ws/whoami/"
    assert seen[0]["client_host"] == "127.0.0.1"
    assert seen[0]["origin"] == origin
    assert "!" in seen[0]["channel_name"]  # a process-specific channel
    assert seen[1]["channel_name"] == seen[0]["channel_name"]
    return seen[0]


def check_foreign_origin_refused(site: Site) -> None:
    with pytest.raises(InvalidStatus) as refused:
        ws_connect(_ws(site, "/ws/chat/lobby/"), origin="http://evil.example", open_timeout=TIMEOUT)
    assert refused.value.response.status_code == 403


def check_unrouted_path_is_refused_and_logged(site: Site) -> None:
    """URLRouter finds no route: refused (403) and the server says why, once."""
    with pytest.raises(InvalidStatus) as refused:
        ws_connect(_ws(site, "/ws/nowhere/"), origin=site.url, open_timeout=TIMEOUT)
    assert refused.value.response.status_code == 403
    host = site.procs[1 if site.workers else 0]  # split: the WebSocket worker
    host.wait_for(r"ASGI_APPLICATION failed on a websocket connection .*No route found")


def _wait(driver: Any, check: Callable[[Any], Any], what: str) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, TIMEOUT).until(check, message=what)


def _open_room(driver: Any, site: Site, room: str) -> None:
    driver.get(f"{site.url}/chat/{room}/")
    # The tutorial's page keeps its socket in a top-level const: open means joined
    # (the consumer joins the group before it accepts).
    _wait(driver, lambda d: d.execute_script("return chatSocket.readyState") == 1, "no socket")


def _say(driver: Any, text: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver.find_element(By.ID, "chat-message-input").send_keys(text, Keys.ENTER)


def _log(driver: Any) -> list[str]:
    value: str = driver.execute_script("return document.querySelector('#chat-log').value")
    return value.splitlines()


def _all_show(drivers: list[Any], lines: list[str]) -> None:
    for driver in drivers:
        _wait(driver, lambda d: _log(d) == lines, f"the chat log never read {lines}")


def check_chat(site: Site, browser: Callable[..., Any]) -> None:
    alice, bob = browser(), browser()
    room = f"room{uuid.uuid4().hex[:6]}"
    for driver in (alice, bob):
        _open_room(driver, site, room)
    _say(alice, "hello from alice")
    _all_show([alice, bob], ["hello from alice"])
    _say(bob, "hello from bob")
    _all_show([alice, bob], ["hello from alice", "hello from bob"])
    answer = httpx.post(
        f"{site.url}/chat/{room}/announce/", data={"message": "from a view"}, timeout=TIMEOUT
    )
    assert answer.text == "sent\n"
    _all_show([alice, bob], ["hello from alice", "hello from bob", "from a view"])
    done = site.manage("announce", room, "from a command")
    assert done.returncode == 0, done.stdout + done.stderr
    _all_show([alice, bob], ["hello from alice", "hello from bob", "from a view", "from a command"])


def run_scenario(site: Site, browser: Callable[..., Any]) -> None:
    whoami = check_scope(site)
    if site.workers:
        # The consumer's channel is one of its worker process's own channels.
        process = whoami["channel_name"].split("!")[0].rsplit(".", 1)[-1]
        assert process in site.workers, (whoami, site.workers)
    if site.procs[0].args[-1] != "mysite.asgi:application":  # Telephonist, not Daphne
        check_unrouted_path_is_refused_and_logged(site)
    check_foreign_origin_refused(site)
    check_chat(site, browser)


def test_under_runserver(runserver: Site, browser: Callable[..., Any]) -> None:
    run_scenario(runserver, browser)


def test_under_runinterfaces_and_two_runworkers(split: Site, browser: Callable[..., Any]) -> None:
    """The guide's step 4: a worker for WebSockets, one for the views."""
    run_scenario(split, browser)
    check_status_shows_the_hosted_application(split)


def check_status_shows_the_hosted_application(site: Site) -> None:
    """`telephonist status` over the project's layer: each worker reports the hosted
    ASGI_APPLICATION's counters (instances, Channels' database clean-up hops)."""
    env = {**site.env, "TELEPHONIST_LAYER__BACKEND": "redis"}
    done = subprocess.run(
        [sys.executable, "-m", "telephonist.cli", "status", "--json"],
        cwd=site.root, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    workers = [p for p in json.loads(done.stdout)["processes"] if p["kind"] == "worker"]
    assert len(workers) == 2, done.stdout
    hosted = [w["dispatch"]["consumers"]["ASGI_APPLICATION"] for w in workers]
    # Both chat sockets, the scope check and the view requests made instances.
    assert sum(h["instances"] for h in hosted) >= 3, hosted
    assert all(h["instances_live"] >= 0 for h in hosted), hosted
    # Every hosted consumer message went through the clean-up check: made or skipped.
    assert sum(h.get("db_cleanup_skipped", 0) + h.get("db_cleanup_made", 0) for h in hosted) > 0
    text = subprocess.run(
        [sys.executable, "-m", "telephonist.cli", "status"],
        cwd=site.root, env=env, capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    assert any(line.startswith("  ASGI_APPLICATION: ") and "instances=" in line
               for line in text.splitlines()), text  # fmt: skip


def test_under_daphne_with_telephonists_layer(daphne: Site, browser: Callable[..., Any]) -> None:
    run_scenario(daphne, browser)


# -- the project's own tests -----------------------------------------------------------


@pytest.mark.parametrize("settings", ["telephonist", "channels"])
def test_websocket_communicator_tests_pass(
    settings: str, tmp_path: Path, redis_server: RedisServer
) -> None:
    """``python manage.py test chat``: Channels' WebsocketCommunicator against the
    consumer and the whole application, with either settings."""
    make = _telephonist_site if settings == "telephonist" else _daphne_site
    site = make(tmp_path, redis_server)
    done = site.manage("test", "chat", "-v", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Ran 3 tests" in done.stderr, done.stderr

"""Django views served as the consumer of ``http.request`` (``DjangoViewConsumer``),
under ``telephonist run``, with httpx as the browser: middleware, sessions, login, CSRF,
streaming (sync and async), FileResponse, multipart uploads, async views."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.http.process import ROOT, RunningServer, python_path, toml_for

SETTINGS = "tests.http.djangoapp.settings"


def _django(env: dict[str, str], code: str) -> None:
    subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        env={**os.environ, **env, "PYTHONPATH": python_path()},
        cwd=ROOT,
        check=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def django_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    directory = tmp_path_factory.mktemp("django")
    env = {"DJANGO_SETTINGS_MODULE": SETTINGS, "DJANGOAPP_DB": str(directory / "db.sqlite3")}
    _django(
        env, "from django.core.management import call_command; call_command('migrate', verbosity=0)"
    )
    _django(
        env,
        "from django.contrib.auth.models import User; "
        "User.objects.create_user('ada', password='pw')",
    )
    toml = toml_for("tests.http.djangoapp.routing.routes", root_path="/site")
    server = RunningServer(directory / "run", toml, env=env).ready()
    yield server
    server.stop()


@pytest.fixture
def client(django_server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://127.0.0.1:{django_server.port}", timeout=20) as c:
        yield c


def test_sync_view_runs_through_middleware_in_a_pool_thread(client: httpx.Client) -> None:
    r = client.get("/hello")
    assert r.status_code == 200
    assert r.text.startswith("hello from telephonist-django")
    assert r.headers["x-stamp"] == "sync"
    assert r.headers["x-content-type-options"] == "nosniff"  # SecurityMiddleware


def test_async_view_runs_natively(client: httpx.Client) -> None:
    r = client.get("/ahello")
    assert r.text == "async hello"
    assert r.headers["x-stamp"] == "async"  # the middleware chain ran in async mode


def test_unknown_url_is_djangos_404(client: httpx.Client) -> None:
    r = client.get("/nope")
    assert r.status_code == 404
    assert r.headers["x-stamp"] == "sync"


def test_session_persists_across_requests(client: httpx.Client) -> None:
    assert [client.get("/count").text for _ in range(3)] == ["1", "2", "3"]
    assert "sessionid" in client.cookies


def test_login_and_auth(client: httpx.Client) -> None:
    assert client.get("/whoami").text == "anonymous"
    assert client.post("/login", data={"username": "ada", "password": "bad"}).status_code == 401
    assert client.post("/login", data={"username": "ada", "password": "pw"}).text == "ok"
    assert client.get("/whoami").text == "ada"


def test_csrf_middleware_refuses_a_post_without_token(client: httpx.Client) -> None:
    assert client.post("/protected", data={"a": "b"}).status_code == 403


def test_streaming_responses_sync_and_async(client: httpx.Client) -> None:
    r = client.get("/stream")
    assert r.text == "part0;part1;part2;part3;part4;"
    assert r.headers["transfer-encoding"] == "chunked"
    r = client.get("/astream")
    assert r.text == "apart0;apart1;apart2;"


def test_file_response(client: httpx.Client) -> None:
    r = client.get("/download")
    assert r.status_code == 200
    assert r.content == bytes(range(256)) * 1200
    assert r.headers["content-length"] == str(256 * 1200)
    assert "attachment" in r.headers["content-disposition"]


def test_async_file_response(client: httpx.Client) -> None:
    r = client.get("/adownload")
    assert r.content == bytes(range(256)) * 1200
    assert r.headers["content-length"] == str(256 * 1200)
    assert r.headers["x-stamp"] == "async"


def test_async_view_session_and_login(client: httpx.Client) -> None:
    assert [client.get("/acount").text for _ in range(3)] == [
        "1 anonymous",
        "2 anonymous",
        "3 anonymous",
    ]
    assert client.post("/login", data={"username": "ada", "password": "pw"}).text == "ok"
    # login() keeps the anonymous session's data under a new key
    assert client.get("/acount").text == "4 ada"


def test_multipart_upload_streams_to_disk(client: httpx.Client, tmp_path: Path) -> None:
    payload = os.urandom(700_000)  # several http.request chunks; spooled on both sides
    r = client.post(
        "/upload",
        data={"title": "été"},
        files={"doc": ("report.bin", payload, "application/octet-stream")},
    )
    assert r.status_code == 200
    answer = r.json()
    assert answer["fields"] == {"title": "été"}
    assert answer["files"]["doc"] == {
        "name": "report.bin",
        "size": len(payload),
        "sha": hashlib.sha256(payload).hexdigest(),
        "on_disk": True,
    }


def test_chunked_request_body(client: httpx.Client) -> None:
    def gen() -> Iterator[bytes]:
        for _ in range(10):
            yield b"x" * 100_000

    assert client.post("/body", content=gen()).json() == {"length": 1_000_000}


def test_request_meta_root_path_and_header_spoofing(client: httpx.Client) -> None:
    r = client.get(
        "/meta/%C3%A9?q=1",
        headers={"X-Custom": "yes", "X-Auth_User": "forged"},
    )
    meta = r.json()
    assert meta["remote_addr"] == "127.0.0.1"
    assert meta["script_name"] == "/site"  # root_path from the interface config
    assert meta["path"] == "/site/meta/é"
    assert meta["path_info"] == "/meta/é"
    assert meta["query"] == {"q": "1"}
    assert meta["secure"] is False
    assert meta["header"] == "yes"
    assert meta["spoofed"] is None  # X-Auth_User must not pass for X-Auth-User

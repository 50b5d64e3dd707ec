"""The multichat example with Slack: one setting, ``MULTICHAT_SLACK=#lobby``.

* Offline, as a newcomer runs it (no Slack tokens): the example starts the Slack
  stand-in itself, and its page is where a person posts as a Slack user; a line said
  there reaches the room's web page, and the web page's reaches the Slack channel.
* Bridged for real: the example configured with Slack tokens (the stand-in's, served by
  this test) and a real ngircd, one room across two IRC clients, a Slack user driven as
  Slack would (events in over Socket Mode, ``chat.postMessage`` calls observed), a mail
  and two Chromium sessions: every line appears exactly once everywhere else, attributed
  and with its origin; replies, threads, edits, deletes, reactions and ``/me`` are
  mapped or written out readably; the bot's own Slack posts, which Slack echoes back,
  never loop.

Every wait is a bounded wait on something observable; nothing sleeps.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets.sync.client

from telephonist.django.testing import LiveServer
from tests.django.test_multichat import EXAMPLE, migrate
from tests.servers import free_port

WAIT = 20.0


@pytest.fixture
def offline() -> Iterator[tuple[LiveServer, str]]:
    """The example as ``MULTICHAT_SLACK=#lobby make run`` starts it, without tokens."""
    with tempfile.TemporaryDirectory(prefix="multichat-") as tmp:
        port = free_port()
        env = {
            "DJANGO_SETTINGS_MODULE": "multichat.settings",
            "MULTICHAT_DB": str(Path(tmp) / "db.sqlite3"),
            "MULTICHAT_SLACK": "#lobby",
            "MULTICHAT_SLACK_PORT": str(port),
        }
        migrate(env)
        server = LiveServer(
            ["interfaces.email.port=0"], env=env, cwd=EXAMPLE, databases={}, timeout=60
        )
        with server:
            assert "interface slack: socket mode" in server.log, server.log
            assert f"post as a Slack user in #lobby at http://127.0.0.1:{port}/" in server.log
            yield server, f"http://127.0.0.1:{port}"


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=WAIT) as answer:
        return json.loads(answer.read())


def _post(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=WAIT) as answer:
        return json.loads(answer.read())


def _frame(ws: Any, match: Any) -> dict[str, Any]:
    """The next JSON frame ``match`` accepts (bounded: each recv waits at most WAIT)."""
    for _ in range(200):
        frame: dict[str, Any] = json.loads(ws.recv(timeout=WAIT))
        if match(frame):
            return frame
    raise AssertionError("no such frame in 200")


def test_offline_the_example_runs_the_slack_standin_and_its_page(
    offline: tuple[LiveServer, str],
) -> None:
    server, standin = offline
    with urllib.request.urlopen(f"{standin}/", timeout=WAIT) as page:
        assert b"Slack stand-in" in page.read()
    assert _get(f"{standin}/page/channels") == ["lobby"]
    url = server.ws_url("/chat/lobby/") + "?name=webbob"
    with websockets.sync.client.connect(
        url, open_timeout=WAIT, subprotocols=[websockets.Subprotocol("telephonist.chat.v2")]
    ) as ws:
        # The bot's own join of #lobby (announced at start) links the room to Slack.
        state = _frame(ws, lambda f: f.get("type") == "state")
        assert {"protocol": "slack", "room": "lobby"} in state["links"]
        said = {"user": "sam", "channel": "lobby", "text": "hello from slack"}
        assert _post(f"{standin}/page/say", said) == {"ok": True}
        event = _frame(ws, lambda f: f.get("text") == "hello from slack")
        assert (event["user"], event["protocol"]) == ("sam", "slack")
        ws.send(json.dumps({"text": "hi from the <web>"}))

        def posted() -> list[str]:
            return [m["text"] for m in _get(f"{standin}/page/messages?channel=lobby") if m["bot"]]

        for _ in range(int(WAIT * 10)):  # the page's own poll: at most WAIT seconds
            if posted():
                break
            _frame_or_none(ws)
        assert posted() == ["[web] <webbob> hi from the <web>"]


def _frame_or_none(ws: Any) -> None:
    """Wait up to 0.1 s for a frame (the pace of polling the stand-in's page)."""
    with contextlib.suppress(TimeoutError):
        ws.recv(timeout=0.1)

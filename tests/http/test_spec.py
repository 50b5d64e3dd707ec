"""The HTTP and WebSocket message specs in code (``telephonist.spec``) against their
prose (``docs/http.md``, ``docs/websocket.md``): the same channel names, the same keys
per message. The host's ``reply_channel`` and ``order`` are documented per event but are
not part of what the interface builds, so they are left out of the comparison."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

from telephonist.spec import http, websocket
from tests.http.process import ROOT

HOST_KEYS = {"reply_channel", "order"}
NAME = re.compile(r"`(\w+)`")


def keys(typed: Any) -> set[str]:
    return set(typed.__required_keys__ | typed.__optional_keys__)


def table_after(page: str, heading: str) -> list[list[str]]:
    """The cells of the first table after ``heading`` (header and rule rows dropped)."""
    text = (ROOT / "docs" / page).read_text()
    rest = text[text.index(heading) :]
    rows: list[list[str]] = []
    for line in rest.splitlines()[1:]:
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
        elif rows:
            break
    return rows[2:]


def keys_by_type(rows: list[list[str]], key_column: int = 1) -> dict[str, set[str]]:
    """``{message type: documented keys}`` from a table whose first column names the
    type (blank: same as the row above) and ``key_column`` the keys."""
    found: dict[str, set[str]] = {}
    current = ""
    for row in rows:
        typed = re.search(r"[a-z]+(?:\.[a-z]+)+", row[0])  # a type name, bare or in a dict
        if typed:
            current = typed.group(0)
        found.setdefault(current, set()).update(NAME.findall(row[key_column]))
    return found


def test_channel_names_are_the_asgi_names() -> None:
    assert http.EVENT_CHANNELS == ("http.request", "http.disconnect")
    assert (http.RESPONSE_START, http.RESPONSE_BODY) == (
        "http.response.start",
        "http.response.body",
    )
    assert websocket.EVENT_CHANNELS == (
        "websocket.connect",
        "websocket.receive",
        "websocket.disconnect",
    )
    assert (websocket.ACCEPT, websocket.SEND, websocket.CLOSE) == (
        "websocket.accept",
        "websocket.send",
        "websocket.close",
    )


def test_http_request_keys_match_the_docs() -> None:
    rows = table_after("http.md", "### `http.request`")
    documented = {name for row in rows for name in NAME.findall(row[0])}
    assert documented - HOST_KEYS == keys(http.HTTPRequestEvent)
    text = " ".join((ROOT / "docs" / "http.md").read_text().split())
    repeated = re.search(r"routing keys of the first one repeated \((.*?)\)", text)
    assert repeated is not None
    assert set(NAME.findall(repeated.group(1))) == keys(http.HTTPRouting)
    chunk = re.search(r"with keys (`type`.*?), and the short", text)
    assert chunk is not None
    own = keys(http.HTTPBodyEvent) - keys(http.HTTPRouting)
    assert set(NAME.findall(chunk.group(1))) - HOST_KEYS == own


def test_http_reply_keys_match_the_docs() -> None:
    documented = keys_by_type(table_after("http.md", "### Replies"))
    assert documented["http.response.start"] | {"type"} == keys(http.HTTPResponseStartEvent)
    assert documented["http.response.body"] | {"type"} == keys(http.HTTPResponseBodyEvent)


def test_websocket_event_keys_match_the_docs() -> None:
    documented = keys_by_type(table_after("websocket.md", "### Events"))
    events = {
        "websocket.connect": websocket.WebSocketConnectEvent,
        "websocket.receive": websocket.WebSocketReceiveEvent,
        "websocket.disconnect": websocket.WebSocketDisconnectEvent,
    }
    assert set(documented) == set(events)
    for name, typed in events.items():
        assert (documented[name] - HOST_KEYS) | {"type"} == keys(typed), name


def test_websocket_reply_keys_match_the_docs() -> None:
    rows = table_after("websocket.md", "### Replies")
    documented = keys_by_type([row for row in rows if '"type"' in row[0]])
    replies = {
        "websocket.accept": websocket.WebSocketAcceptEvent,
        "websocket.send": websocket.WebSocketSendEvent,
        "websocket.close": websocket.WebSocketCloseEvent,
    }
    assert set(documented) == set(replies)
    for name, typed in replies.items():
        assert documented[name] | {"type"} == keys(typed), name


def test_specs_and_seams_import_without_the_protocol_libraries() -> None:
    """Consumers, routing and other interfaces use the names without the ``http`` extra:
    nothing on their import path may load Twisted, h11 or Autobahn."""
    code = (
        "import sys\n"
        "import telephonist.spec.http, telephonist.spec.websocket\n"
        "import telephonist.interfaces.mounts, telephonist.interfaces.upgrade\n"
        "import telephonist.consumers, telephonist.routing\n"
        "loaded = [m for m in ('twisted', 'h11', 'autobahn') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)

"""WebSocket origins (docs/security.md, "WebSocket origins").

In a Django project a page of another site cannot open a socket (origins follow
``ALLOWED_HOSTS``), shown with a real server and a real WebSocket client sending the
``Origin`` a browser would; ``manage.py check`` warns when every origin is allowed in a
project with sessions; outside Django the default is open, and says so.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import websockets
from hypothesis import given
from hypothesis import strategies as st
from websockets.exceptions import InvalidStatus

from telephonist.django.checks import check_settings
from telephonist.django.testing import LiveServer
from telephonist.interfaces.websocket.config import WebSocketConfig
from telephonist.interfaces.websocket.origin import OriginPolicy, origin_host

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 30.0


async def _open(url: str, origin: str | None) -> str:
    headers = {"Origin": origin} if origin else {}
    async with asyncio.timeout(TIMEOUT), websockets.connect(url, additional_headers=headers) as ws:
        await ws.send("hi")
        return str(await ws.recv())


def test_another_sites_page_cannot_open_a_socket(telephonist_live_server: LiveServer) -> None:
    server = telephonist_live_server
    url = server.ws_url("/echo/")
    with pytest.raises(InvalidStatus) as refused:
        asyncio.run(_open(url, "https://evil.example"))
    assert refused.value.response.status_code == 403
    # The site's own pages (an ALLOWED_HOSTS host, any port) and non-browser clients can.
    assert asyncio.run(_open(url, server.http_url)) == "echo hi"
    assert asyncio.run(_open(url, "http://localhost:1234")) == "echo hi"
    assert asyncio.run(_open(url, None)) == "echo hi"


def _warnings() -> list[Any]:
    return [m for m in check_settings() if m.id == "telephonist.W003"]


def test_check_warns_about_any_origin_with_sessions(settings: Any) -> None:
    settings.TELEPHONIST = {}
    assert _warnings() == []  # the test settings list their hosts
    settings.ALLOWED_HOSTS = ["*"]
    (warning,) = _warnings()
    assert "every origin" in warning.msg
    assert "ALLOWED_HOSTS" in warning.msg
    settings.TELEPHONIST = {"interfaces": {"http": {"websocket": {"allowed_origins": ["*"]}}}}
    settings.ALLOWED_HOSTS = ["example.com"]
    (warning,) = _warnings()
    assert "allowed_origins" in warning.msg
    settings.INSTALLED_APPS = [a for a in settings.INSTALLED_APPS if a != "django.contrib.sessions"]
    assert _warnings() == []  # no sessions: no cookie to ride on


def test_outside_django_every_origin_is_allowed_by_default() -> None:
    # The documented default (docs/security.md says what to set instead).
    assert WebSocketConfig().allowed_origins == ["*"]
    policy = OriginPolicy(WebSocketConfig().allowed_origins)
    assert policy.allows("https://evil.example")


_LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)


@given(host=st.lists(_LABEL, min_size=1, max_size=3).map(".".join),
       port=st.integers(1, 65535), scheme=st.sampled_from(["http", "https"]))  # fmt: skip
def test_host_rules_match_like_allowed_hosts(host: str, port: int, scheme: str) -> None:
    exact = OriginPolicy([], hosts=[host])
    assert exact.allows(f"{scheme}://{host}:{port}")
    assert exact.allows(f"{scheme}://{host.upper()}")
    assert not exact.allows(f"{scheme}://sub.{host}")
    assert not exact.allows(f"{scheme}://{host}.evil.example")
    assert not exact.allows(f"{scheme}://evil{host}")
    assert not exact.allows(f"{scheme}://{host}@evil.example")
    assert not exact.allows(f"{scheme}://evil.example/{host}")
    assert not exact.allows(f"ftp://{host}")
    assert not exact.allows("null")
    domain = OriginPolicy([], hosts=[f".{host}"])
    assert domain.allows(f"{scheme}://sub.{host}:{port}")
    assert domain.allows(f"{scheme}://{host}")
    assert not domain.allows(f"{scheme}://sub{host}")


def test_ipv6_hosts_are_written_as_django_writes_them() -> None:
    assert origin_host("http://[::1]:8000") == "[::1]"
    assert OriginPolicy([], hosts=["[::1]"]).allows("http://[::1]:8000")
    assert origin_host("http://host:notaport") is None

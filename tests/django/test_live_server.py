"""The live-server test tools: the project's interfaces started for real, on free ports,
against the test database (pytest fixture and TestCase)."""

from __future__ import annotations

import asyncio
import urllib.request

import websockets

from telephonist.django.testing import LiveServer, TelephonistLiveServerTestCase
from tests.django.testapp.models import Note

TIMEOUT = 30.0


def talk(url: str, *texts: str) -> list[str]:
    async def run() -> list[str]:
        async with asyncio.timeout(TIMEOUT), websockets.connect(url) as ws:
            answers = []
            for text in texts:
                await ws.send(text)
                answers.append(str(await ws.recv()))
            return answers

    return asyncio.run(run())


def test_fixture_serves_the_project_against_the_test_database(
    telephonist_live_server: LiveServer,
) -> None:
    server = telephonist_live_server
    Note.objects.create(text="written by the test")
    assert talk(server.ws_url("/note/"), "from the socket") == ["noted 2"]
    assert sorted(Note.objects.values_list("text", flat=True)) == [
        "from the socket",
        "written by the test",
    ]
    with urllib.request.urlopen(server.http_url + "/", timeout=TIMEOUT) as response:
        assert response.read() == b"hello from a Django view"


class LiveServerCase(TelephonistLiveServerTestCase):
    def test_a_test_case_gets_a_live_server(self) -> None:
        assert talk(self.live_server.ws_url("/echo/"), "hi") == ["echo hi"]
        assert self.live_server.http_url.startswith("http://127.0.0.1:")

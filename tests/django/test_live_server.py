"""The live-server test tools: the project's interfaces started for real, on free ports,
against the test database (pytest fixture and TestCase)."""

from __future__ import annotations

import urllib.request

from telephonist.django.testing import LiveServer, TelephonistLiveServerTestCase
from tests.django.testapp.models import Note
from tests.django.wsclient import talk

TIMEOUT = 30.0


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

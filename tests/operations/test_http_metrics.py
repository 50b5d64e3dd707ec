"""``metrics.http_path``: the same metrics on the web port of ``telephonist run``, with
HTTP answers counted by status, and the access log as JSON fields."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.http.process import RunningServer, toml_for
from tests.operations import page


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    toml = toml_for() + '\n[metrics]\nhttp_path = "/metrics"\n'
    running = RunningServer(tmp_path / "run", toml, "--log-format", "json").ready()
    yield running
    running.stop()


def test_metrics_on_the_http_port_and_json_access_lines(server: RunningServer) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=20) as client:
        assert client.get("/nowhere").status_code == 404
        scraped = client.get("/metrics")
    assert scraped.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(scraped.text)}
    assert set(page.documented_metrics()) <= set(families)
    answers = {
        (s.labels["protocol"], s.labels["code"]): s.value
        for s in families["telephonist_interface_answers"].samples
    }
    assert answers[("http", "404")] >= 1
    (info,) = families["telephonist_process_info"].samples[:1]
    assert info.labels["role"] == "all-in-one"
    records = [json.loads(ln) for ln in server.stderr().splitlines() if ln.startswith("{")]
    access = [r for r in records if r["logger"] == "telephonist.access.http"]
    assert access, server.stderr()
    first = access[0]
    assert first["role"] == "all-in-one"
    assert first["interface"] == "http"
    assert first["access"]["status"] == 404
    assert first["access"]["target"] == "/nowhere"
    assert first["access"]["method"] == "GET"

"""Every async test here runs on the session's event loop: Twisted's reactor is a
process-wide singleton bound to one loop (see ``harness.twisted_reactor``)."""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import pytest

from tests.http.process import RunningServer, toml_for


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = str(item.path)
        if ("/tests/http/" in path or "/tests/websocket/" in path) and inspect.iscoroutinefunction(
            getattr(item, "function", None)
        ):
            item.add_marker(pytest.mark.asyncio(loop_scope="session"), append=False)


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """``telephonist run`` serving ``tests.http.webapp`` on a free loopback port, with
    short timeouts so a request the server does not finish shows up as a failure fast."""
    toml = toml_for(header_timeout=5, max_header_bytes=8192, max_body_bytes=1_000_000)
    server = RunningServer(tmp_path_factory.mktemp("run"), toml).ready()
    yield server
    server.stop()
